"""Group commit of device messages: validate, dedupe, store, route, ack.

One call handles a batch: every incident of the batch is committed in one
transaction (one fsync), and only then are the acks built (DESIGN.md, Traps:
a commit per incident cannot keep up with the broker). Pure database work,
no MQTT: the ingest loop publishes the returned acks after the commit.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import lifecycle, routing
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import Call, Device, Incident
from protocol.categories import CATALOGUE
from protocol.codec import decode_device_message
from protocol.errors import ProtocolError
from protocol.fleet import Status, Telemetry
from protocol.ids import ULID_PATTERN
from protocol.reports import AckItem, CallRecord, Rejection
from protocol.reports import Incident as IncidentMsg
from protocol.topics import DeviceTopic, parse_device_topic

log = logging.getLogger("gateway.intake")

import re  # noqa: E402

_ulid = re.compile(ULID_PATTERN)


@dataclass
class Message:
    topic: str
    payload: bytes


@dataclass
class DeviceAck:
    stored: list[AckItem] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class BatchResult:
    acks: dict[str, DeviceAck] = field(default_factory=dict)
    stored_incidents: int = 0
    dispatches: int = 0


def case_number(prefix: str, year: int, pk: int) -> str:
    """``MDN-2026-000123``: short enough to read aloud on the phone."""
    return f"{prefix}-{year}-{pk:06d}"


def _payload_id(payload: bytes) -> str | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    v = data.get("id") if isinstance(data, dict) else None
    return v if isinstance(v, str) and _ulid.match(v) else None


class Intake:
    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics) -> None:
        self.db = db
        self.cfg = cfg
        self.metrics = metrics

    def process(self, batch: Sequence[Message]) -> BatchResult:
        """Store a batch; retried once per conflict with another instance."""
        for attempt in range(5):
            try:
                return self._process_once(batch)
            except IntegrityError:
                # another gateway instance stored one of these ids between our
                # check and our commit: the retry sees it as a duplicate
                log.info("commit conflict, retrying batch (attempt %d)", attempt + 1)
        return self._process_once(batch)

    def _process_once(self, batch: Sequence[Message]) -> BatchResult:
        res = BatchResult()
        decoded: list[tuple[str, DeviceTopic, object]] = []
        for m in batch:
            try:
                parsed = parse_device_topic(m.topic)
            except ProtocolError as exc:
                self.metrics.reject(exc.reason, None, str(exc))
                continue
            self.metrics.received.labels(kind=parsed.kind.value).inc()
            try:
                _, msg = decode_device_message(m.topic, m.payload)
            except ProtocolError as exc:
                self.metrics.reject(exc.reason, parsed.device, str(exc))
                decoded.append((parsed.device, parsed.kind,
                                Rejection(id=_payload_id(m.payload), reason=exc.reason,
                                          detail=str(exc)[:200])))
                continue
            decoded.append((parsed.device, parsed.kind, msg))
        if not decoded:
            return res
        self.metrics.batch_size.observe(len(batch))
        with self.db.session() as s:
            devs = {d.id: d for d in s.scalars(
                select(Device).where(Device.id.in_({d for d, _, _ in decoded})))}
            inc_ids = [m.id for _, _, m in decoded if isinstance(m, IncidentMsg)]
            call_ids = [m.id for _, _, m in decoded if isinstance(m, CallRecord)]
            known_inc = {i.id: i for i in s.scalars(select(Incident).where(Incident.id.in_(inc_ids)))} \
                if inc_ids else {}
            known_calls = {c.id: c for c in s.scalars(select(Call).where(Call.id.in_(call_ids)))} \
                if call_ids else {}
            acks: dict[str, DeviceAck] = defaultdict(DeviceAck)
            now = utcnow()
            for device, kind, msg in decoded:
                dev = devs.get(device)
                if dev is None or not dev.enabled:
                    if isinstance(msg, Rejection):
                        continue  # counted above under its own reason
                    reason = "unknown_device" if dev is None else "device_disabled"
                    self.metrics.reject(reason, device, f"{kind} from {reason.replace('_', ' ')}")
                    continue
                dev.last_seen = now
                if isinstance(msg, Rejection):
                    if kind in (DeviceTopic.INCIDENT, DeviceTopic.CALL):
                        acks[device].rejected.append(msg)
                    continue
                if isinstance(msg, IncidentMsg):
                    item = self._incident(s, msg, known_inc, res)
                    if item is None:
                        acks[device].rejected.append(Rejection(id=msg.id, reason="id_conflict"))
                    else:
                        acks[device].stored.append(item)
                elif isinstance(msg, CallRecord):
                    acks[device].stored.append(self._call(s, msg, known_calls, now))
                elif isinstance(msg, Status):
                    dev.last_status = msg.state
                    dev.status_at = now
                    if msg.firmware:
                        dev.firmware = msg.firmware
                elif isinstance(msg, Telemetry):
                    dev.last_telemetry = msg.model_dump(mode="json", exclude_none=True)
                    dev.telemetry_at = now
                self.metrics.stored.labels(kind=kind.value).inc()
        res.acks = dict(acks)
        return res

    def _incident(self, s: Session, msg: IncidentMsg, known: dict[str, Incident],
                  res: BatchResult) -> AckItem | None:
        prior = known.get(msg.id)
        if prior is not None:
            if prior.device_id != msg.device:
                self.metrics.reject("id_conflict", msg.device, f"incident id {msg.id} used by another device")
                return None
            self.metrics.duplicates.inc()
            return AckItem(id=msg.id, seq=msg.seq, case=prior.case_no, duplicate=True)
        now = utcnow()
        cat = CATALOGUE[msg.category]
        loc = msg.location
        inc = Incident(
            id=msg.id, device_id=msg.device, seq=msg.seq, category=msg.category.value,
            source=msg.source.value, priority=int(cat.priority), status=lifecycle.Status.RECEIVED,
            lat=loc.lat if loc else None, lon=loc.lon if loc else None,
            location_label=loc.label if loc else None, area=loc.area if loc else None,
            description=msg.description, caller=msg.caller, call_id=msg.call_id, button=msg.button,
            device_time=msg.device_time if msg.clock_synced else None, received_at=now, updated_at=now,
        )
        if inc.area is None or inc.location_label is None:
            dev = s.get(Device, msg.device)  # a field box knows where it stands
            if dev is not None:
                inc.area = inc.area or dev.area
                inc.location_label = inc.location_label or dev.label
                if inc.lat is None and inc.lon is None:
                    inc.lat, inc.lon = dev.lat, dev.lon
        s.add(inc)
        s.flush()
        inc.case_no = case_number(self.cfg.site.case_prefix, now.year, inc.pk)
        known[msg.id] = inc
        lifecycle.audit(s, inc, to="received", actor=f"device:{msg.device}", via="mqtt")
        res.stored_incidents += 1
        route = routing.route(self.cfg, msg.category, msg.source, inc.area)
        inc.sla_ack_min, inc.sla_resolve_min = route.sla_ack_min, route.sla_resolve_min
        if not route.routed:
            lifecycle.reject(s, inc, msg.category.value, actor="system", via="ingest",
                             note=f"{msg.category.value}: stored and counted, never routed")
        elif route.auto:
            lifecycle.move(s, inc, lifecycle.Status.TRIAGED, actor="system", via="ingest",
                           note="auto-dispatch rule")
            if route.handoff:
                inc.handoff = True
                lifecycle.audit(s, inc, to=inc.status, from_status=inc.status, event="handoff",
                                actor="system", via="ingest",
                                note="no OPD for this case: operator phone hand-off")
            else:
                res.dispatches += len(lifecycle.dispatch(s, self.cfg, inc, route.opds, actor="system",
                                                         via="ingest"))
        else:
            inc.handoff = route.handoff
        return AckItem(id=msg.id, seq=msg.seq, case=inc.case_no)

    def _call(self, s: Session, msg: CallRecord, known: dict[str, Call], now) -> AckItem:
        if msg.id in known:
            self.metrics.duplicates.inc()
            return AckItem(id=msg.id, seq=msg.seq, duplicate=True)
        row = Call(id=msg.id, device_id=msg.device, seq=msg.seq, direction=msg.direction.value,
                   number=msg.number, ring_at=msg.ring_at, answered_at=msg.answered_at,
                   ended_at=msg.ended_at, answer_s=msg.answer_s, duration_s=msg.duration_s,
                   end_reason=msg.end_reason.value, operator=msg.operator, received_at=now)
        s.add(row)
        known[msg.id] = row
        return AckItem(id=msg.id, seq=msg.seq)

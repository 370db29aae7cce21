"""Group commit of device messages: validate, dedupe, store, route, ack.

One call handles a batch: every incident of the batch is committed in one
transaction (one fsync), and only then are the acks built (a commit per
incident cannot keep up with the broker: SQLite's fsync caps it, see
ARCHITECTURE.md, "Group commit at the gateway"). Pure database work,
no MQTT: the ingest loop publishes the returned acks after the commit.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway import flags, intake_reads, lifecycle, routing
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.metrics import Metrics, Tally
from gateway.store.db import Database, table
from gateway.store.models import Call, Device, Incident
from protocol.categories import CATALOGUE
from protocol.codec import decode_device_message, peek
from protocol.errors import ProtocolError
from protocol.fleet import Status, Telemetry
from protocol.ids import ULID_PATTERN
from protocol.reports import AckItem, CallRecord, DeskState, Rejection, Source
from protocol.reports import Incident as IncidentMsg
from protocol.topics import DeviceTopic, parse_device_topic

log = logging.getLogger("gateway.intake")
RETRYABLE = ("40P01", "40001")  # PostgreSQL: deadlock detected, serialization failure
S = lifecycle.Status
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
    flagged: int = 0  # numbers newly flagged by this batch: the flag list must go out
    new_cases: list[str] = field(default_factory=list)  # ids, for the consoles' live queue

    def merge(self, other: BatchResult) -> None:
        for device, a in other.acks.items():
            mine = self.acks.setdefault(device, DeviceAck())
            mine.stored += a.stored
            mine.rejected += a.rejected
        self.stored_incidents += other.stored_incidents
        self.dispatches += other.dispatches
        self.flagged += other.flagged
        self.new_cases += other.new_cases


def case_number(prefix: str, year: int, pk: int) -> str:
    """``MDN-2026-000123``: short enough to read aloud on the phone."""
    return f"{prefix}-{year}-{pk:06d}"


def new_pks(s: Session, n: int) -> list[int]:
    """``n`` keys for new incidents, taken before the insert so that the
    case numbers go in with the rows (no INSERT ... RETURNING then UPDATE,
    two round trips). PostgreSQL: from the column's sequence (a rolled-back
    batch leaves a gap, as a failed INSERT always did). SQLite: after the
    largest key, which no other writer can take meanwhile (``BEGIN
    IMMEDIATE`` holds the write lock from the start of the transaction)."""
    if s.get_bind().dialect.name == "postgresql":
        return sorted(s.scalars(text("SELECT nextval(pg_get_serial_sequence('incidents', 'pk')) "
                                     "FROM generate_series(1, :n)"), {"n": n}))
    top = s.scalar(select(func.max(Incident.pk))) or 0
    return list(range(top + 1, top + 1 + n))


def update_devices(s: Session, changes: dict[str, dict[str, Any]]) -> None:
    """The devices' rows, one UPDATE each in the order of their ids (as the
    ORM's flush orders them): two transactions updating the same devices in
    different orders deadlock on PostgreSQL (two ingest workers, two
    instances, the fleet watch), and a deadlocked batch is retried, not lost,
    but costs its acks a round. On PostgreSQL they go out in the pipeline."""
    devices = table(Device)
    for device in sorted(changes):
        s.execute(update(devices).where(devices.c.id == device).values(**changes[device]))


def payload_id(payload: bytes) -> str | None:
    """The ULID ``id`` of a payload to name in a rejection, or None; never
    raises (the payload may be anything)."""
    v = peek(payload, "id")
    return v if isinstance(v, str) and _ulid.match(v) else None


class Intake:
    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics) -> None:
        self.db = db
        self.cfg = cfg
        self.metrics = metrics

    def database_ok(self) -> bool:
        """True when a trivial transaction succeeds (tells a dead database
        from a message that breaks the code)."""
        try:
            with self.db.session() as s:
                s.execute(select(1))
            return True
        except Exception:
            return False

    def process(self, batch: Sequence[Message]) -> BatchResult:
        """Store a batch; retried once per conflict with another instance."""
        for attempt in range(5):
            try:
                return self._process_once(batch)
            except IntegrityError:
                # another gateway instance stored one of these ids between our
                # check and our commit: the retry sees it as a duplicate
                log.info("commit conflict, retrying batch (attempt %d)", attempt + 1)
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) not in RETRYABLE:
                    raise
                # PostgreSQL chose this transaction to break a deadlock (or a
                # serialization failure): nothing was stored, run it again
                log.warning("Basis data membatalkan batch / database aborted the batch (%s), "
                            "retrying (attempt %d)", exc.orig.sqlstate, attempt + 1)  # type: ignore[union-attr]
        return self._process_once(batch)

    def _process_once(self, batch: Sequence[Message]) -> BatchResult:
        res = BatchResult()
        t = Tally()
        decoded: list[tuple[str, DeviceTopic, Any]] = []
        for m in batch:
            try:
                parsed = parse_device_topic(m.topic)
            except ProtocolError as exc:
                t.reject(exc.reason, None, str(exc))
                continue
            t.received.append(parsed.kind.value)
            try:
                _, msg = decode_device_message(m.topic, m.payload)
            except ProtocolError as exc:
                t.reject(exc.reason, parsed.device, str(exc))
                decoded.append((parsed.device, parsed.kind,
                                Rejection(id=payload_id(m.payload), reason=exc.reason,
                                          detail=str(exc)[:200])))
                continue
            decoded.append((parsed.device, parsed.kind, msg))
        if not decoded:
            t.apply(self.metrics)
            return res
        started = time.perf_counter()
        with self.db.session(urgent=True) as s:  # a unit waits for its Ack
            known = intake_reads.read(
                s, {d for d, _, _ in decoded},
                [(m.id, m.device) for _, _, m in decoded if isinstance(m, IncidentMsg)],
                [m.id for _, _, m in decoded if isinstance(m, CallRecord)])
            devs, known_inc, known_calls = known.devices, known.incidents, known.calls
            acks: dict[str, DeviceAck] = defaultdict(DeviceAck)
            now = utcnow()
            new: dict[str, IncidentMsg] = {}
            to_fill: list[AckItem] = []  # ack items whose case number the insert assigns
            merge: list[IncidentMsg] = []
            calls: list[dict[str, Any]] = []  # new call rows
            seen: dict[str, dict[str, Any]] = {}  # device id -> its row's new values
            for device, kind, msg in decoded:
                dev = devs.get(device)
                if dev is None or not dev.enabled:
                    if isinstance(msg, Rejection):
                        continue  # counted above under its own reason
                    reason = "unknown_device" if dev is None else "device_disabled"
                    t.reject(reason, device, f"{kind} from {reason.replace('_', ' ')}")
                    continue
                up = seen.setdefault(device, {})
                up["last_seen"] = now
                if not isinstance(msg, Rejection | Status):
                    up["online"] = True  # any sign of life (gateway.fleet.health clears it)
                if isinstance(msg, Rejection):
                    if kind in (DeviceTopic.INCIDENT, DeviceTopic.CALL):
                        acks[device].rejected.append(msg)
                    continue
                if isinstance(msg, IncidentMsg):
                    prior = known_inc.get(msg.id)
                    owner = prior[0] if prior is not None else getattr(new.get(msg.id), "device", None)
                    if owner is not None and owner != msg.device:  # stored, or earlier in this batch
                        t.reject("id_conflict", msg.device,
                                            f"incident id {msg.id} used by another device")
                        acks[device].rejected.append(Rejection(id=msg.id, reason="id_conflict"))
                        continue
                    if prior is not None or msg.id in new:
                        if prior is not None and msg.source is not Source.SMS:
                            merge.append(msg)  # a case first taken in by SMS gets its full copy
                        item = AckItem(id=msg.id, seq=msg.seq, case=prior[1] if prior else None,
                                       duplicate=True)
                    else:
                        new[msg.id] = msg
                        item = AckItem(id=msg.id, seq=msg.seq)
                    if item.case is None:
                        to_fill.append(item)
                    acks[device].stored.append(item)
                    if item.duplicate:
                        t.duplicates.append(kind.value)  # stored_total counts new records only
                        continue
                elif isinstance(msg, CallRecord):
                    item = self._call(s, msg, known_calls, now, calls)
                    acks[device].stored.append(item)
                    if item.duplicate:
                        t.duplicates.append(kind.value)
                        continue
                elif isinstance(msg, Status):
                    up.update(last_status=msg.state, online=msg.state == "online",
                              status_reason=msg.reason, status_at=now)
                    if msg.boot_id:
                        up["boot_id"] = msg.boot_id
                    if msg.firmware:
                        up["firmware"] = msg.firmware
                elif isinstance(msg, DeskState):  # the console shows who is ringing now
                    up.update(desk=msg.model_dump(mode="json", exclude_none=True), desk_at=now)
                elif isinstance(msg, Telemetry):
                    up.update(last_telemetry=msg.model_dump(mode="json", exclude_none=True),
                              telemetry_at=now)
                t.stored.append(kind.value)
            pks = self._keys(s, known, list(new))
            typed = [m.number for _, _, m in decoded if isinstance(m, CallRecord) and m.call_type] + \
                [m.caller for m in new.values() if m.call_type]
            # from here on only writes (and the COMMIT): one round trip on PostgreSQL,
            # unless an SMS merge or a flag check has to read what this batch wrote
            with self.db.pipeline(s, enabled=not (merge or typed)):
                if calls:
                    s.execute(insert(table(Call)).inline(), calls)
                if new:
                    cases = self._store_incidents(s, list(new.values()), devs, now, res, pks)
                    for item in to_fill:
                        item.case = cases[item.id]
                update_devices(s, seen)
                if merge:
                    from gateway.sms.intake import merge_full_copies

                    merge_full_copies(s, merge, self.metrics)
                if typed:  # junk calls may flag their number (gateway.flags)
                    res.flagged += len(flags.evaluate(s, self.cfg.flags, typed, now))
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        t.apply(self.metrics)
        self.metrics.batch_size.observe(len(batch))
        res.acks = dict(acks)
        return res

    @staticmethod
    def _keys(s: Session, known: intake_reads.Known, new: list[str]) -> list[int]:
        """The new incidents' keys, in batch order (case numbers rise with it)."""
        if not new:
            return []
        if known.keys is None:
            return new_pks(s, len(new))
        taken = sorted(known.keys[i] for i in new if i in known.keys)
        if len(taken) < len(new):  # the read's idea of "new" differed: never expected
            log.warning("intake: %d new incidents had no key from the read", len(new) - len(taken))
            taken = sorted(taken + new_pks(s, len(new) - len(taken)))
        return taken

    def _store_incidents(self, s: Session, msgs: list[IncidentMsg], devs: dict[str, Any],
                         now: datetime, res: BatchResult, pks: list[int]) -> dict[str, str]:
        """Insert new incidents in bulk with their keys (``pks``, taken
        beforehand: the case numbers go in with the rows, and no statement
        here waits for a result), then hand them to the cases service's bulk
        path: a per-row ORM flush cost ~5 ms an incident here."""
        rows: list[dict[str, Any]] = []
        routes = []
        for msg in msgs:
            loc = msg.location
            dev = devs[msg.device]  # a field box knows where it stands
            area = (loc.area if loc else None) or dev.area
            label = (loc.label if loc else None) or dev.label
            lat, lon = (loc.lat, loc.lon) if loc and (loc.lat is not None or loc.lon is not None) \
                else (dev.lat, dev.lon)
            route = routing.route(self.cfg, msg.category, msg.source, area, msg.call_type)
            routes.append(route)
            status = lifecycle.initial_status(route)
            rows.append(dict(
                id=msg.id, device_id=msg.device, seq=msg.seq, category=msg.category.value,
                source=msg.source.value, priority=int(CATALOGUE[msg.category].priority),
                status=status.value, lat=lat, lon=lon, location_label=label, area=area,
                description=msg.description, caller=msg.caller, call_id=msg.call_id, button=msg.button,
                call_type=msg.call_type.value if msg.call_type else None,
                device_time=msg.device_time if msg.clock_synced else None, received_at=now,
                updated_at=now, reject_reason=None,
                handoff=route.handoff, escalated=False, sla_ack_min=route.sla_ack_min,
                sla_resolve_min=route.sla_resolve_min,
            ))
            if status is S.REJECTED:  # its junk call type, else its category
                rows[-1]["reject_reason"] = lifecycle.reject_reason(rows[-1])
        prefix = self.cfg.site.case_prefix
        cases: dict[str, str] = {r["id"]: case_number(prefix, now.year, pk)
                                 for r, pk in zip(rows, pks, strict=True)}
        s.execute(insert(table(Incident)).inline(), [{**r, "pk": pk, "case_no": cases[r["id"]]}
                                               for r, pk in zip(rows, pks, strict=True)])
        # statuses, audit rows, assignments and outbox rows: the cases service's bulk path
        res.dispatches += lifecycle.open_cases(s, self.cfg, [
            lifecycle.NewCase(pk, cases[msg.id], row, route, f"device:{msg.device}", "mqtt")
            for msg, row, pk, route in zip(msgs, rows, pks, routes, strict=True)], now)
        res.stored_incidents += len(msgs)
        typed = [(m.call_id, m.call_type.value) for m in msgs if m.call_id and m.call_type]
        for call_id, ctype in typed:  # the case's type is the call's (the later word wins)
            s.execute(update(table(Call)).where(Call.id == call_id).values(call_type=ctype))
        res.new_cases += [m.id for m in msgs]
        return cases

    def _call(self, s: Session, msg: CallRecord, known: set[str], now: datetime,
              rows: list[dict[str, Any]]) -> AckItem:
        """A call record's ack; a new one's row joins ``rows`` (inserted with the batch)."""
        if msg.id in known:
            return AckItem(id=msg.id, seq=msg.seq, duplicate=True)
        row = dict(id=msg.id, device_id=msg.device, seq=msg.seq, direction=msg.direction.value,
                   number=msg.number, ring_at=msg.ring_at, answered_at=msg.answered_at,
                   ended_at=msg.ended_at, answer_s=msg.answer_s, duration_s=msg.duration_s,
                   end_reason=msg.end_reason.value, operator=msg.operator, received_at=now,
                   call_type=msg.call_type.value if msg.call_type else None)
        # a case typed for this call may have arrived first (its type wins)
        typed = s.scalar(select(Incident.call_type).where(Incident.call_id == msg.id,
                                                          Incident.call_type.is_not(None)).limit(1))
        if typed:
            row["call_type"] = typed
        rows.append(row)
        known.add(msg.id)
        return AckItem(id=msg.id, seq=msg.seq)

"""A province gateway's intake: the cases its cities' brokers bridge up.

A city broker's bridge (``siaga admin broker gen-config``) remaps each unit's
``incident`` and ``call`` records under ``siaga/v1/city/<city>/`` on the
province broker. Here, the counterpart of :class:`gateway.intake.Intake` for
those topics (``MqttIngest`` calls this instead when the site has a
``province`` section; a city gateway never comes here):

* the city comes from the topic and must be one of ``province.cities``
  (else ``unknown_city``: counted, logged once per city and device, dropped);
* the record is decoded by the same contract as at the city;
* each case and call is stored once: the ULID is the key, and a record
  already stored from the same city and device is a re-delivery (the bridge
  delivers at least once, and replays its queue after a cut). The same id from
  another city or device is refused as ``id_conflict``, never merged;
* units are keyed by (city, device) in ``city_devices``: a city's broker
  authenticated the unit, so an unknown one is accepted and recorded as seen;
* nothing is acked (the city gateway acks its units; nothing goes down the
  bridge), no number is flagged (the flag list cannot reach the panels), and
  unless ``province.dispatch`` is true nothing is routed: the city has
  dispatched it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import lifecycle, routing
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.intake import BatchResult, Message, case_number
from gateway.metrics import Metrics, Tally
from gateway.store.db import Database
from gateway.store.models import Call, Incident
from gateway.store.models_province import CityDevice
from protocol.categories import CATALOGUE
from protocol.codec import decode_device_message
from protocol.errors import ProtocolError
from protocol.reports import CallRecord
from protocol.reports import Incident as IncidentMsg
from protocol.topics import DeviceTopic, city_filter, parse_city_topic, parse_device_topic

log = logging.getLogger("gateway.province")
S = lifecycle.Status
#: what a city's bridge carries up (central.broker.bridge.CASE_KINDS): the province takes these
KINDS = (DeviceTopic.INCIDENT, DeviceTopic.CALL)
VIA = "bridge"


def subscriptions() -> list[tuple[str, int]]:
    """The province ingest's filters: every city (the city is checked per
    message, so one not configured is counted, not silently unseen).

    Plain, not ``$share``: Mosquitto does not keep an offline session's shared
    subscription over a broker restart, and the bridges deliver their queues
    the moment the province broker is back, before any gateway is; no city
    re-sends what the province missed (no ack comes back down). A plain
    subscription is in the saved session. With several province gateways,
    each receives every case and the ids keep it stored once."""
    return [(city_filter(k), 1) for k in KINDS]


@dataclass
class _Rec:
    city: str
    device: str
    kind: DeviceTopic
    msg: Any  # IncidentMsg | CallRecord


class ProvinceIntake:
    """Store a batch of bridged records (one transaction), like ``Intake``."""

    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics) -> None:
        assert cfg.province is not None
        self.db = db
        self.cfg = cfg
        self.metrics = metrics
        self.cities = {c.slug for c in cfg.province.cities}
        self.dispatch = cfg.province.dispatch
        if cfg.broker.session_expiry_s < 3600:  # no unit re-sends to a province
            log.warning("broker.session_expiry_s=%d: a province gateway stopped longer than that loses "
                        "what the bridges delivered meanwhile; give it hours (docs/deploy-scale.md)",
                        cfg.broker.session_expiry_s)

    def database_ok(self) -> bool:
        try:
            with self.db.session() as s:
                s.execute(select(1))
            return True
        except Exception:
            return False

    def process(self, batch: Sequence[Message]) -> BatchResult:
        """Store a batch; retried when another province instance committed
        one of its ids (or units) between our check and our commit."""
        for attempt in range(5):
            try:
                return self._process_once(batch)
            except IntegrityError:
                log.info("commit conflict, retrying batch (attempt %d)", attempt + 1)
        return self._process_once(batch)

    def _decode(self, batch: Sequence[Message], t: Tally) -> list[_Rec]:
        recs: list[_Rec] = []
        for m in batch:
            try:
                city, topic = parse_city_topic(m.topic)
                parsed = parse_device_topic(topic)
            except ProtocolError as exc:
                t.reject(exc.reason, None, str(exc))
                continue
            who = f"{city}/{parsed.device}"
            if city not in self.cities:
                t.reject("unknown_city", who, f"{parsed.kind} from city {city!r}, which is "
                         "not in province.cities: not stored")
                continue
            if parsed.kind not in KINDS:
                t.reject("not_a_case", who, f"{parsed.kind} is not bridged to a province")
                continue
            t.received.append(parsed.kind.value)
            try:
                _, msg = decode_device_message(topic, m.payload)
            except ProtocolError as exc:
                t.reject(exc.reason, who, str(exc))
                continue
            recs.append(_Rec(city, parsed.device, parsed.kind, msg))
        return recs

    def _process_once(self, batch: Sequence[Message]) -> BatchResult:
        res = BatchResult()
        t = Tally()
        recs = self._decode(batch, t)
        if recs:
            with self.db.session() as s:
                self._store(s, recs, t, res)
        t.apply(self.metrics)
        self.metrics.batch_size.observe(len(batch))
        return res

    def _store(self, s: Session, recs: list[_Rec], t: Tally, res: BatchResult) -> None:
        now = utcnow()
        inc_ids = [r.msg.id for r in recs if r.kind is DeviceTopic.INCIDENT]
        call_ids = [r.msg.id for r in recs if r.kind is DeviceTopic.CALL]
        # id -> (city, device) of what is stored already: the same pair is a re-delivery
        seen: dict[str, tuple[str | None, str | None]] = {}
        if inc_ids:
            seen |= {i: (c, d) for i, c, d in s.execute(
                select(Incident.id, Incident.city, Incident.device_id).where(Incident.id.in_(inc_ids)))}
        if call_ids:
            seen |= {i: (c, d) for i, c, d in s.execute(
                select(Call.id, Call.city, Call.device_id).where(Call.id.in_(call_ids)))}
        new_inc: list[_Rec] = []
        new_calls: list[_Rec] = []
        for r in recs:
            prior = seen.get(r.msg.id)
            if prior is not None:
                if prior != (r.city, r.device):
                    t.reject("id_conflict", f"{r.city}/{r.device}",
                             f"{r.kind} id {r.msg.id} already stored from "
                             f"{prior[0] or 'this site'}/{prior[1]}")
                else:
                    t.duplicates.append(r.kind.value)
                continue
            seen[r.msg.id] = (r.city, r.device)
            (new_inc if r.kind is DeviceTopic.INCIDENT else new_calls).append(r)
            t.stored.append(r.kind.value)
        if new_calls:
            self._store_calls(s, new_calls, now)
        if new_inc:
            self._store_incidents(s, new_inc, now, res)
        self._saw(s, recs, new_inc, new_calls, now)

    def _route(self, msg: IncidentMsg, area: str | None) -> routing.Route:
        route = routing.route(self.cfg, msg.category, msg.source, area, msg.call_type)
        if self.dispatch or not route.routed:
            return route
        # the city dispatched it: stored as received, for the record, no SLA here
        return routing.Route((), False, True, False, None, None)

    def _store_incidents(self, s: Session, recs: list[_Rec], now: datetime, res: BatchResult) -> None:
        """Bulk insert, then the cases service's bulk path (as the city's intake)."""
        rows: list[dict[str, Any]] = []
        routes: list[routing.Route] = []
        for r in recs:
            msg: IncidentMsg = r.msg
            loc = msg.location  # the province has no registry: the place is what the unit sent
            area = loc.area if loc else None
            route = self._route(msg, area)
            routes.append(route)
            status = lifecycle.initial_status(route)
            row = dict(
                id=msg.id, city=r.city, device_id=msg.device, seq=msg.seq, category=msg.category.value,
                source=msg.source.value, priority=int(CATALOGUE[msg.category].priority),
                status=status.value, lat=loc.lat if loc else None, lon=loc.lon if loc else None,
                location_label=loc.label if loc else None, area=area, description=msg.description,
                caller=msg.caller, call_id=msg.call_id, button=msg.button,
                call_type=msg.call_type.value if msg.call_type else None,
                device_time=msg.device_time if msg.clock_synced else None, received_at=now,
                updated_at=now, reject_reason=None, handoff=route.handoff, escalated=False,
                sla_ack_min=route.sla_ack_min, sla_resolve_min=route.sla_resolve_min)
            if status is S.REJECTED:
                row["reject_reason"] = lifecycle.reject_reason(row)
            rows.append(row)
        pks = s.scalars(insert(Incident).returning(Incident.pk, sort_by_parameter_order=True), rows).all()
        prefix = self.cfg.site.case_prefix
        cases = {row["id"]: case_number(prefix, now.year, pk) for row, pk in zip(rows, pks, strict=True)}
        s.execute(update(Incident), [{"pk": pk, "case_no": cases[row["id"]]}
                                     for row, pk in zip(rows, pks, strict=True)])
        note = None if self.dispatch else ("ditangani oleh kota; provinsi mencatat / handled by the "
                                           "city; the province keeps the record")
        res.dispatches += lifecycle.open_cases(s, self.cfg, [
            lifecycle.NewCase(pk, cases[row["id"]], row, route, f"device:{r.city}/{r.device}", VIA,
                              note=f"{self.cfg.city_name(r.city)}: {note}" if note else None)
            for r, row, pk, route in zip(recs, rows, pks, routes, strict=True)], now)
        res.stored_incidents += len(recs)
        for r in recs:  # the case's type is the call's (the later word wins)
            if r.msg.call_id and r.msg.call_type:
                s.execute(update(Call).where(Call.id == r.msg.call_id)
                          .values(call_type=r.msg.call_type.value))
        res.new_cases += [r.msg.id for r in recs]

    def _store_calls(self, s: Session, recs: list[_Rec], now: datetime) -> None:
        for r in recs:
            msg: CallRecord = r.msg
            typed = s.scalar(select(Incident.call_type).where(
                Incident.call_id == msg.id, Incident.call_type.is_not(None)).limit(1))
            s.add(Call(id=msg.id, city=r.city, device_id=msg.device, seq=msg.seq,
                       direction=msg.direction.value, number=msg.number, ring_at=msg.ring_at,
                       answered_at=msg.answered_at, ended_at=msg.ended_at, answer_s=msg.answer_s,
                       duration_s=msg.duration_s, end_reason=msg.end_reason.value,
                       operator=msg.operator, received_at=now,
                       call_type=typed or (msg.call_type.value if msg.call_type else None)))

    def _saw(self, s: Session, recs: list[_Rec], new_inc: list[_Rec], new_calls: list[_Rec],
             now: datetime) -> None:
        """Each (city, device) heard from: its row in ``city_devices``, made on first sight."""
        pairs = {(r.city, r.device) for r in recs}
        rows = {(d.city, d.device_id): d for d in s.scalars(select(CityDevice).where(
            CityDevice.city.in_({c for c, _ in pairs}),
            CityDevice.device_id.in_({d for _, d in pairs})))}
        for pair in sorted(pairs - rows.keys()):
            rows[pair] = CityDevice(city=pair[0], device_id=pair[1], first_seen=now, last_seen=now,
                                    incidents=0, calls=0)
            s.add(rows[pair])
            log.info("Unit baru lewat jembatan / unit first seen through the bridge: %s/%s", *pair)
        for pair in pairs:
            rows[pair].last_seen = now
        for r in new_inc:
            rows[(r.city, r.device)].incidents += 1
        for r in new_calls:
            rows[(r.city, r.device)].calls += 1

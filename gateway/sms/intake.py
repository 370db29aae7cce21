"""What the centre's modem receives becomes a case (or is refused and counted).

Three kinds of SMS reach the centre's number:

* a unit's signed fallback (``protocol.smsfallback``): verified with the
  unit's own key, checked against replay (its ULID taken in by SMS before)
  and a time window, then stored as the case of that very id with source
  ``sms``, routed and dispatched like any case; the MQTT copy that follows
  is merged into it (:func:`merge_full_copies`), so there is one case;
* an OPD duty officer's reply (``TERIMA 1234``...), see ``gateway.sms.replies``;
* anything else, from a citizen's phone: an "SMS report" for the operators'
  queue (category ``other``, status ``received``, the text as description).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import lifecycle, routing
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.intake import case_number
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import Device, Incident, Transition
from protocol import smsfallback as wire
from protocol.categories import CATALOGUE, Category
from protocol.ids import new_id
from protocol.reports import Incident as IncidentMsg

log = logging.getLogger("gateway.sms")
S = lifecycle.Status
MAX_REPORT_CHARS = 2000


@dataclass(frozen=True)
class Outcome:
    result: str  # accepted | report | reply | refusal reason
    case: str | None = None
    detail: str = ""


class SmsIntake:
    """Pure database work for one received SMS; the modem service calls :meth:`handle`."""

    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics, *,
                 on_dispatch: Callable[[], None] | None = None,
                 replies: Callable[[Session, str, str], Outcome | None] | None = None) -> None:
        if cfg.sms is None:
            raise ValueError("site config has no sms section")
        self.db = db
        self.cfg = cfg
        self.metrics = metrics
        self.master = cfg.sms.master_key.resolve().encode()
        self.window = timedelta(seconds=cfg.sms.window_s)
        self.on_dispatch = on_dispatch or (lambda: None)
        self.replies = replies

    def handle(self, number: str, text: str, *, now: datetime | None = None) -> Outcome:
        """Never raises for bad input: the outcome names the refusal, counted in /metrics."""
        now = now or utcnow()
        try:
            if wire.looks_like_fallback(text):
                out = self._unit_sms(number, text, now)
            else:
                reply = None
                if self.replies is not None:
                    with self.db.session() as s:
                        reply = self.replies(s, number, text)
                out = reply if reply is not None else self._report(number, text, now)
        except wire.SmsError as exc:
            out = Outcome(exc.reason, detail=str(exc))
        self.metrics.sms.labels(result=out.result).inc()
        if out.result not in ("accepted", "report", "reply"):
            self.metrics.reject(f"sms_{out.result}", number, out.detail or out.result)
        return out

    def _unit_sms(self, number: str, text: str, now: datetime) -> Outcome:
        msg, _body, _tag = wire.parse(text)
        with self.db.session() as s:
            dev = s.get(Device, msg.device)
            if dev is None or not dev.enabled:
                return Outcome("unknown_device", detail=f"{msg.device} from {number}")
            wire.verify(text, wire.device_key(self.master, msg.device))
            created = msg.created_at()
            if msg.synced and abs(now - created) > self.window:
                return Outcome("stale", detail=f"{msg.id} made {created.isoformat()}")
            prior = s.execute(select(Incident.source, Incident.case_no)
                              .where(Incident.id == msg.id)).first()
            if prior is not None:
                # taken in by SMS before: a replay; else the MQTT copy won the race (harmless)
                reason = "replayed" if prior.source == "sms" else "already_stored"
                return Outcome(reason, case=prior.case_no, detail=msg.id)
            inc = self._store_unit_case(s, msg, dev, now)
            case, dispatched = inc.case_no, inc.status == S.DISPATCHED
        if dispatched:
            self.on_dispatch()  # after the commit: the dispatcher finds the outbox rows
        return Outcome("accepted", case=case, detail=msg.id)

    def _store_unit_case(self, s: Session, msg: wire.FallbackSms, dev: Device, now: datetime) -> Incident:
        """The cases service's path for new cases (as MQTT and typed-in cases)."""
        route = routing.route(self.cfg, msg.category, "sms", dev.area)
        inc, _ = lifecycle.open_case(s, self.cfg, route, dict(
            id=msg.id, device_id=msg.device, seq=msg.seq, category=msg.category.value, source="sms",
            priority=int(CATALOGUE[msg.category].priority), lat=dev.lat, lon=dev.lon,
            location_label=dev.label, area=dev.area, device_time=msg.created_at() if msg.synced else None,
            received_at=now, updated_at=now), actor=f"device:{msg.device}", via="sms", now=now,
            note="SMS fallback (IP link down)")
        log.warning("Kasus dari SMS / case from a unit's SMS: %s %s (%s)", inc.case_no, msg.id, msg.device)
        return inc

    def _file(self, s: Session, inc: Incident, now: datetime, *, actor: str, note: str) -> None:
        s.add(inc)
        s.flush()
        inc.case_no = case_number(self.cfg.site.case_prefix, now.year, inc.pk)
        lifecycle.audit(s, inc, to=S.RECEIVED, actor=actor, via="sms", note=note)

    def _report(self, number: str, text: str, now: datetime) -> Outcome:
        body = text.strip()
        if not body:
            return Outcome("empty", detail=number)
        with self.db.session() as s:
            inc = Incident(id=new_id(), category=Category.OTHER.value, source="sms",
                           priority=int(CATALOGUE[Category.OTHER].priority), status="received",
                           description=body[:MAX_REPORT_CHARS], caller=number[:24], received_at=now,
                           updated_at=now)
            self._file(s, inc, now, actor=f"sms:{number}", note="SMS report from a citizen")
            return Outcome("report", case=inc.case_no)


def merge_full_copies(s: Session, msgs: Iterable[IncidentMsg], metrics: Metrics) -> None:
    """The MQTT copy of a case first taken in by SMS: fill in what the SMS could
    not carry (button, location, description, caller, call), once; one case."""
    by_id = {m.id: m for m in msgs}
    if not by_id:
        return
    rows = s.scalars(select(Incident).where(Incident.id.in_(by_id), Incident.source == "sms",
                                            Incident.device_id.is_not(None))).all()
    for inc in rows:
        done = s.scalar(select(Transition.pk).where(Transition.incident_pk == inc.pk,
                                                    Transition.event == "merged"))
        if done is not None:
            continue
        m = by_id[inc.id]
        loc = m.location
        if loc is not None:
            inc.lat = loc.lat if loc.lat is not None else inc.lat
            inc.lon = loc.lon if loc.lon is not None else inc.lon
            inc.location_label = loc.label or inc.location_label
            inc.area = loc.area or inc.area
        inc.button = m.button
        inc.description = m.description or inc.description
        inc.caller = m.caller or inc.caller
        inc.call_id = m.call_id or inc.call_id
        if m.clock_synced and m.device_time is not None:
            inc.device_time = m.device_time
        lifecycle.audit(s, inc, to=inc.status, from_status=inc.status, actor=f"device:{m.device}",
                        via="mqtt", event="merged", note="full MQTT copy merged into the SMS case")
        metrics.sms.labels(result="merged").inc()

"""What goes into the outbox: dispatch bodies (JSON, or CAP XML for an OPD
that asked for it), the channels an OPD is reached by, escalation bodies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from gateway.config.models import BodyFormat, SiteConfig
from gateway.store.models import Assignment, Incident
from protocol.categories import Category, Priority
from protocol.codec import encode
from protocol.dispatch import Dispatch
from protocol.ids import new_id
from protocol.reports import Location, Source


def dispatch_payload(inc: Incident, opd: str, dispatch_id: str) -> bytes:
    loc = None
    if any(v is not None for v in (inc.lat, inc.lon, inc.location_label, inc.area)):
        loc = Location(lat=inc.lat, lon=inc.lon, label=inc.location_label, area=inc.area)
    msg = Dispatch(id=dispatch_id, case=inc.case_no or inc.id, incident_id=inc.id, opd=opd,
                   category=Category(inc.category), priority=Priority(inc.priority),
                   source=Source(inc.source), device=inc.device_id, location=loc,
                   description=inc.description, received_at=inc.received_at,
                   sla_ack_min=_int_or_none(inc.sla_ack_min),
                   sla_resolve_min=_int_or_none(inc.sla_resolve_min))
    return encode(msg)


def _int_or_none(v: float | None) -> int | None:
    return None if v is None else max(1, round(v))


def channels(cfg: SiteConfig, opd: str) -> list[str]:
    """The outbox channels an OPD is reached by (``sms:<i>``: its i-th SMS
    number, sent through the centre's modem when the site has one)."""
    opd_cfg = cfg.opd(opd)
    if opd_cfg is None:
        return []
    out = []
    if opd_cfg.channels.webhook is not None:
        out.append("webhook")
    if opd_cfg.channels.mqtt_terminal:
        out.append("mqtt")
    from gateway.sms.opd import sms_channels  # one row per duty phone, when the centre has a modem

    return out + sms_channels(cfg, opd)


def outbox_rows(cfg: SiteConfig, inc: Incident, opd: str, now: datetime) -> list[dict[str, Any]]:
    """Outbox rows (one per channel) dispatching ``inc`` to ``opd``, as dicts
    for a bulk INSERT; a webhook whose format is ``cap`` gets CAP 1.2 XML."""
    rows = []
    opd_cfg = cfg.opd(opd)
    for ch in channels(cfg, opd):
        oid = new_id()
        hook = opd_cfg.channels.webhook if opd_cfg else None
        if ch == "webhook" and hook is not None and hook.format is BodyFormat.CAP:
            from gateway.cap import alert_xml

            body = alert_xml(inc, cfg, identifier_suffix=oid).decode()
        else:
            body = dispatch_payload(inc, opd, oid).decode()
        rows.append(dict(id=oid, incident_pk=inc.pk, kind="dispatch", channel=ch, target=opd,
                         status="pending", attempts=0, next_attempt_at=now, created_at=now,
                         payload=body))
    return rows


def escalation_payload(inc: Incident, a: Assignment, kind: str, cfg: SiteConfig, *,
                       level: int | None = None, contacts: list[Any] | None = None) -> str:
    people = cfg.escalation.contacts if contacts is None else contacts
    return json.dumps({
        "v": 1, "type": "escalation", "kind": kind, "level": level, "case": inc.case_no,
        "incident_id": inc.id, "opd": a.opd, "category": inc.category,
        "dispatched_at": a.dispatched_at.isoformat(),
        "sla_min": a.sla_ack_min if kind == "ack" else a.sla_resolve_min,
        "contacts": [c.model_dump(exclude_none=True) for c in people],
    }, separators=(",", ":"))

"""The incident state machine, OPD steps and the audit trail.

``received -> triaged -> dispatched -> acknowledged -> on_scene -> resolved ->
closed``, and ``rejected`` (prank, test, duplicate) from received/triaged.
Each OPD of a case has its own clock (an :class:`Assignment`): the first OPD
acknowledgement moves the case to ``acknowledged``, the last OPD resolution to
``resolved``. Every change writes a :class:`Transition` row (who, when, via).
Illegal steps raise :class:`IllegalTransition` (HTTP 409) with the reason.
"""

from __future__ import annotations

import enum
import json

from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.errors import IllegalTransition
from gateway.store.models import Assignment, Incident, Outbox, Transition
from protocol.categories import Category, Priority
from protocol.codec import encode
from protocol.dispatch import Dispatch
from protocol.ids import new_id
from protocol.reports import JUNK_CALL_TYPES, Location, Source


class Status(enum.StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


class RejectReason(enum.StrEnum):
    PRANK = "prank"
    TEST = "test"
    DUPLICATE = "duplicate"
    GHOST = "ghost"
    MISDIAL = "misdial"


class OpdStep(enum.StrEnum):
    ACKNOWLEDGE = "acknowledged"
    ON_SCENE = "on_scene"
    RESOLVE = "resolved"


S = Status
ALLOWED: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.TRIAGED, S.REJECTED}),
    S.TRIAGED: frozenset({S.DISPATCHED, S.REJECTED}),
    S.DISPATCHED: frozenset({S.ACKNOWLEDGED}),
    S.ACKNOWLEDGED: frozenset({S.ON_SCENE, S.RESOLVED}),
    S.ON_SCENE: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
}
OPEN_FOR_OPD = frozenset({S.DISPATCHED, S.ACKNOWLEDGED, S.ON_SCENE})


def audit(session: Session, inc: Incident, *, to: str, actor: str, via: str, event: str = "status",
          opd: str | None = None, note: str | None = None, from_status: str | None = None) -> None:
    now = utcnow()
    session.add(Transition(incident_pk=inc.pk, from_status=from_status, to_status=to, event=event,
                           at=now, actor=actor, via=via, opd=opd, note=note))
    inc.updated_at = now


def move(session: Session, inc: Incident, to: Status | str, *, actor: str, via: str,
         note: str | None = None, opd: str | None = None) -> None:
    """One status change, checked against :data:`ALLOWED`."""
    to = Status(to)
    cur = Status(inc.status)
    if to not in ALLOWED[cur]:
        allowed = ", ".join(sorted(ALLOWED[cur])) or "none (final state)"
        raise IllegalTransition(
            f"tidak boleh / not allowed: {cur} -> {to}; from {cur} only: {allowed}"
        )
    inc.status = to.value
    audit(session, inc, to=to.value, from_status=cur.value, actor=actor, via=via, note=note, opd=opd)


def reject(session: Session, inc: Incident, reason: RejectReason | str, *, actor: str, via: str,
           note: str | None = None) -> None:
    reason = RejectReason(reason)
    move(session, inc, S.REJECTED, actor=actor, via=via, note=note or reason.value)
    inc.reject_reason = reason.value


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
    """The outbox channels an OPD is reached by (SMS numbers are listed for
    people, not sent by the gateway)."""
    opd_cfg = cfg.opd(opd)
    if opd_cfg is None:
        return []
    out = []
    if opd_cfg.channels.webhook is not None:
        out.append("webhook")
    if opd_cfg.channels.mqtt_terminal:
        out.append("mqtt")
    return out


def enqueue(session: Session, cfg: SiteConfig, inc: Incident, opd: str) -> list[Outbox]:
    """Outbox rows (one per channel) for dispatching ``inc`` to ``opd``; written
    in the caller's transaction so a committed case always has its deliveries."""
    rows: list[Outbox] = []
    now = utcnow()
    for ch in channels(cfg, opd):
        oid = new_id()
        row = Outbox(id=oid, incident_pk=inc.pk, kind="dispatch", channel=ch, target=opd,
                     payload=dispatch_payload(inc, opd, oid).decode(), status="pending",
                     attempts=0, next_attempt_at=now, created_at=now)
        session.add(row)
        rows.append(row)
    return rows


def dispatch(session: Session, cfg: SiteConfig, inc: Incident, opds: tuple[str, ...] | list[str], *,
             actor: str, via: str, note: str | None = None) -> list[Outbox]:
    """triaged -> dispatched: one assignment and outbox rows per OPD. With no
    OPD (police without MoU, phone hand-off) the case is dispatched by the
    operator and has no OPD clock."""
    if inc.call_type in JUNK_CALL_TYPES:
        raise IllegalTransition(f"Panggilan bertipe {inc.call_type} tidak pernah dikirim ke OPD / "
                                f"a {inc.call_type} call never reaches an OPD")
    unknown = [o for o in opds if cfg.opd(o) is None]
    if unknown:
        raise IllegalTransition(f"OPD tidak dikenal / unknown OPD: {', '.join(unknown)}")
    move(session, inc, S.DISPATCHED, actor=actor, via=via,
         note=note or (f"to {', '.join(opds)}" if opds else "operator phone hand-off"))
    now = utcnow()
    rows: list[Outbox] = []
    for opd in dict.fromkeys(opds):
        session.add(Assignment(incident_pk=inc.pk, opd=opd, dispatched_at=now,
                               sla_ack_min=inc.sla_ack_min, sla_resolve_min=inc.sla_resolve_min))
        rows += enqueue(session, cfg, inc, opd)
    session.flush()
    return rows


def _assignment(inc: Incident, opd: str) -> Assignment:
    for a in inc.assignments:
        if a.opd == opd:
            return a
    raise IllegalTransition(f"kasus ini tidak untuk / case not assigned to OPD {opd!r}")


def opd_step(session: Session, inc: Incident, opd: str, step: OpdStep | str, *, actor: str, via: str,
             note: str | None = None) -> None:
    """An OPD acknowledges, arrives, or resolves its part of a case."""
    step = OpdStep(step)
    cur = Status(inc.status)
    if cur not in OPEN_FOR_OPD:
        raise IllegalTransition(f"kasus berstatus / case is {cur}: OPD steps need it dispatched")
    a = _assignment(inc, opd)
    now = utcnow()
    if step is OpdStep.ACKNOWLEDGE:
        if a.acknowledged_at is not None:
            raise IllegalTransition(f"sudah diterima / already acknowledged by {opd}")
        a.acknowledged_at = now
        audit(session, inc, to=cur.value, from_status=cur.value, event="acknowledge", actor=actor,
              via=via, opd=opd, note=note)
        if cur is S.DISPATCHED:
            move(session, inc, S.ACKNOWLEDGED, actor=actor, via=via, opd=opd)
        return
    if a.acknowledged_at is None:
        raise IllegalTransition(f"terima dulu / {opd} must acknowledge first")
    if a.resolved_at is not None:
        raise IllegalTransition(f"sudah selesai / already resolved by {opd}")
    if step is OpdStep.ON_SCENE:
        if a.on_scene_at is not None:
            raise IllegalTransition(f"sudah di lokasi / {opd} already on scene")
        a.on_scene_at = now
        audit(session, inc, to=cur.value, from_status=cur.value, event="on_scene", actor=actor,
              via=via, opd=opd, note=note)
        if cur is S.ACKNOWLEDGED:
            move(session, inc, S.ON_SCENE, actor=actor, via=via, opd=opd)
        return
    a.resolved_at = now
    audit(session, inc, to=cur.value, from_status=cur.value, event="resolve", actor=actor, via=via,
          opd=opd, note=note)
    if all(x.resolved_at is not None for x in inc.assignments):
        if cur is S.DISPATCHED:  # every OPD acknowledged, yet the case never moved: cannot happen
            raise IllegalTransition("case must be acknowledged before it is resolved")
        move(session, inc, S.RESOLVED, actor=actor, via=via, opd=opd)


def escalation_payload(inc: Incident, a: Assignment, kind: str, cfg: SiteConfig) -> str:
    return json.dumps({
        "v": 1, "type": "escalation", "kind": kind, "case": inc.case_no, "incident_id": inc.id,
        "opd": a.opd, "category": inc.category, "dispatched_at": a.dispatched_at.isoformat(),
        "sla_min": a.sla_ack_min if kind == "ack" else a.sla_resolve_min,
        "contacts": [c.model_dump(exclude_none=True) for c in cfg.escalation.contacts],
    }, separators=(",", ":"))

"""The escalation ladder of each OPD, and the SLA for untriaged cases.

Each level fires once per assignment (per dispatch of it) and the triage
SLA once per case, on one gateway instance only: the claim is an INSERT
into ``escalation_claims`` whose primary key names the assignment and level
(``a<pk>:<dispatched epoch>:<level>``, ``i<pk>:triage``); another instance's
INSERT of the same key fails, and that instance does nothing. The SLA
sweep (:mod:`gateway.sla`) finds what is due in a read-only session
(``due_*``) and fires it in short write transactions.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import lifecycle
from gateway.config.models import EscalationChannel, EscalationLevel, SiteConfig
from gateway.dispatch.payloads import escalation_payload
from gateway.metrics import Metrics
from gateway.store.models import Assignment, EscalationClaim, Incident, Outbox
from protocol.ids import new_id

log = logging.getLogger("gateway.sla")
LADDER_OPEN = lifecycle.OPEN_PARTS


def claim(s: Session, key: str, incident_pk: int, now: datetime, instance: str | None) -> bool:
    """True when this instance won the right to fire ``key``."""
    try:
        with s.begin_nested():
            s.add(EscalationClaim(key=key, incident_pk=incident_pk, at=now, instance=instance))
            s.flush()
    except IntegrityError:
        return False
    return True


def ladder_target(opd: str, level: int) -> str:
    """Outbox target of a ladder level's webhook/MQTT message."""
    return f"{opd}#L{level}"


def level_of(cfg: SiteConfig, target: str) -> EscalationLevel | None:
    """The ladder level an outbox target names (for the dispatcher)."""
    opd, sep, n = target.partition("#L")
    conf = cfg.opd(opd)
    if not sep or conf is None or not n.isdigit() or not 1 <= int(n) <= len(conf.escalation):
        return None
    return conf.escalation[int(n) - 1]


def _due(a: Any, lv: EscalationLevel, now: datetime) -> bool:
    if lv.stage == "ack" and a.acknowledged_at is not None:
        return False
    return now >= a.dispatched_at + timedelta(minutes=lv.after_min)


def _key(a: Any, n: int) -> str:
    return f"a{a.pk}:{int(a.dispatched_at.timestamp())}:{n}"


def _open_parts(cfg: SiteConfig) -> Select[Assignment, Incident]:
    with_ladder = [o.id for o in cfg.opds if o.escalation]
    return select(Assignment, Incident).join(Incident, Assignment.incident_pk == Incident.pk).where(
        Assignment.opd.in_(with_ladder), Assignment.status.in_(LADDER_OPEN))


def due_levels(s: Session, cfg: SiteConfig, now: datetime) -> list[int]:
    """Assignments with a ladder level due and not claimed yet (read-only,
    plain columns: the SLA sweep looks in a read session, then fires in
    short writes)."""
    with_ladder = [o.id for o in cfg.opds if o.escalation]
    if not with_ladder:
        return []
    where = (Assignment.opd.in_(with_ladder), Assignment.status.in_(LADDER_OPEN))
    done = set(s.scalars(select(EscalationClaim.key).where(EscalationClaim.incident_pk.in_(
        select(Assignment.incident_pk).where(*where).scalar_subquery()))))
    out = []
    for a in s.execute(select(Assignment.pk, Assignment.opd, Assignment.dispatched_at,
                              Assignment.acknowledged_at).where(*where)):
        conf = cfg.opd(a.opd)
        assert conf is not None
        if any(_key(a, n) not in done and _due(a, lv, now) for n, lv in enumerate(conf.escalation, 1)):
            out.append(a.pk)
    return out


def ladders(s: Session, cfg: SiteConfig, metrics: Metrics, now: datetime, instance: str | None,
            pks: list[int]) -> int:
    """Fire the due, unfired ladder levels of assignments ``pks``; returns
    how many fired here (a level another instance claimed is skipped)."""
    rows = s.execute(_open_parts(cfg).where(Assignment.pk.in_(pks))).all()
    if not rows:
        return 0
    done = set(s.scalars(select(EscalationClaim.key).where(
        EscalationClaim.incident_pk.in_({inc.pk for _, inc in rows}))))
    made = 0
    for a, inc in rows:
        conf = cfg.opd(a.opd)
        assert conf is not None
        for n, lv in enumerate(conf.escalation, start=1):
            key = _key(a, n)
            if key in done or not _due(a, lv, now) or not claim(s, key, inc.pk, now, instance):
                continue
            _fire(s, cfg, inc, a, n, lv, now)
            metrics.escalations.labels(kind=lv.stage).inc()
            made += 1
    return made


def _fire(s: Session, cfg: SiteConfig, inc: Incident, a: Assignment, n: int, lv: EscalationLevel,
          now: datetime) -> None:
    inc.escalated = True
    what = "acknowledgement" if lv.stage == "ack" else "resolution"
    names = ", ".join(c.name for c in lv.contacts) or "(no contacts configured)"
    lifecycle.event(s, inc, "escalation", actor="system", via="sla", opd=a.opd,
                    note=f"level {n} ({lv.channel.value}): no {what} within {lv.after_min:g} min; "
                         f"contacts: {names}")
    log.warning("Eskalasi tingkat %d / escalation level %d: case %s OPD %s (%s); contacts: %s",
                n, n, inc.case_no, a.opd, lv.stage, names)
    if lv.channel is EscalationChannel.LOG:
        return
    body = escalation_payload(inc, a, lv.stage, cfg, level=n, contacts=lv.contacts)
    s.add(Outbox(id=new_id(), incident_pk=inc.pk, kind="escalation", channel=lv.channel.value,
                 target=ladder_target(a.opd, n), payload=body, status="pending", attempts=0,
                 next_attempt_at=now, created_at=now))


def due_untriaged(s: Session, cfg: SiteConfig, now: datetime) -> list[int]:
    """Cases no operator has triaged within ``escalation.triage_min`` and
    not escalated for it yet (read-only look-up)."""
    limit = cfg.escalation.triage_min
    if limit is None:
        return []
    claimed = select(EscalationClaim.incident_pk).where(EscalationClaim.key.like("i%:triage"))
    return list(s.scalars(select(Incident.pk).where(
        Incident.status == "received", Incident.received_at <= now - timedelta(minutes=limit),
        Incident.pk.not_in(claimed))))


def untriaged(s: Session, cfg: SiteConfig, metrics: Metrics, now: datetime, instance: str | None,
              pks: list[int]) -> int:
    """Escalate the cases ``pks`` still untriaged past ``escalation.triage_min``."""
    limit = cfg.escalation.triage_min
    if limit is None:
        return 0
    late = s.scalars(select(Incident).where(Incident.pk.in_(pks), Incident.status == "received",
                                            Incident.received_at <= now - timedelta(minutes=limit))).all()
    made = 0
    for inc in late:
        if not claim(s, f"i{inc.pk}:triage", inc.pk, now, instance):
            continue
        inc.escalated = True
        lifecycle.event(s, inc, "escalation", actor="system", via="sla",
                        note=f"not triaged within {limit:g} min")
        log.warning("Eskalasi / escalation: case %s not triaged within %g min", inc.case_no, limit)
        if cfg.escalation.webhook is not None:
            s.add(Outbox(id=new_id(), incident_pk=inc.pk, kind="escalation", channel="webhook",
                         target="escalation", status="pending", attempts=0, next_attempt_at=now,
                         created_at=now, payload=json.dumps({
                             "v": 1, "type": "escalation", "kind": "triage", "level": None,
                             "case": inc.case_no, "incident_id": inc.id, "opd": None,
                             "category": inc.category, "sla_min": limit,
                             "contacts": [c.model_dump(exclude_none=True) for c in cfg.escalation.contacts],
                         }, separators=(",", ":"))))
        metrics.escalations.labels(kind="triage").inc()
        made += 1
    return made

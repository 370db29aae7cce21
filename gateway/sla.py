"""SLA timers: an OPD that does not acknowledge or resolve in time is
escalated (flag, audit row, notification): up its own ladder when the site
gives it one (:mod:`gateway.escalation`), else once per SLA to the site's
escalation contacts; a case nobody triages in time is escalated too."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from gateway import escalation, lifecycle
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.metrics import Metrics
from gateway.periodic import Periodic
from gateway.store.db import Database
from gateway.store.models import Assignment, Incident, Outbox
from protocol.ids import new_id

log = logging.getLogger("gateway.sla")

OPEN = lifecycle.OPEN_PARTS  # the same three words for cases and parts
#: escalations per write transaction: a backlog (a gateway that was down, a
#: flood of open cases) is escalated in many short transactions, each a few
#: milliseconds, and the intake goes first between them (Database.session);
#: 200 held the intake's write lock about a second each (issue 22)
CHUNK = 20


def _plain(cfg: SiteConfig) -> list[str]:
    """OPDs without a ladder: escalated once per SLA to the site's contacts."""
    return [o.id for o in cfg.opds if not o.escalation]


def _due(s: Session, cfg: SiteConfig, now: datetime) -> list[int]:
    """Assignments of OPDs without a ladder past a limit and not escalated
    for it yet (``s`` is read-only: the sweep holds the write lock only when
    there is something to escalate, not while it looks through open cases)."""
    rows = s.execute(
        select(Assignment.pk, Assignment.dispatched_at, Assignment.acknowledged_at,
               Assignment.ack_escalated_at, Assignment.resolve_escalated_at, Assignment.sla_ack_min,
               Assignment.sla_resolve_min)
        .join(Incident, Assignment.incident_pk == Incident.pk)
        .where(Incident.status.in_(OPEN), Assignment.status.in_(OPEN), Assignment.opd.in_(_plain(cfg)),
               or_(and_(Assignment.acknowledged_at.is_(None), Assignment.ack_escalated_at.is_(None)),
                   Assignment.resolve_escalated_at.is_(None)))
    ).all()
    return [pk for pk, at, acked, ack_esc, res_esc, ack_min, res_min in rows
            if (acked is None and ack_esc is None and ack_min and now > at + timedelta(minutes=ack_min))
            or (res_esc is None and res_min and now > at + timedelta(minutes=res_min))]


def _escalate(s: Session, cfg: SiteConfig, metrics: Metrics, a: Assignment, inc: Incident,
              now: datetime) -> bool:
    """Escalate ``a`` for whichever limit it has passed first; False if none
    (or another instance was first)."""
    if (a.acknowledged_at is None and a.ack_escalated_at is None and a.sla_ack_min
            and now > a.dispatched_at + timedelta(minutes=a.sla_ack_min)):
        kind, flag = "ack", Assignment.ack_escalated_at
    elif (a.resolve_escalated_at is None and a.sla_resolve_min
            and now > a.dispatched_at + timedelta(minutes=a.sla_resolve_min)):
        kind, flag = "resolve", Assignment.resolve_escalated_at
    else:
        return False
    # a conditional UPDATE: with several instances (PostgreSQL) only one wins
    won = s.execute(update(Assignment).where(Assignment.pk == a.pk, flag.is_(None))
                    .values({flag.key: now})
                    .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    if not won:
        return False
    s.refresh(a)
    inc.escalated = True
    limit = a.sla_ack_min if kind == "ack" else a.sla_resolve_min
    lifecycle.event(s, inc, "escalation", actor="system", via="sla", opd=a.opd,
                    note=f"no {'acknowledgement' if kind == 'ack' else 'resolution'} "
                         f"within {limit:g} min")
    if cfg.escalation.webhook is not None:
        s.add(Outbox(id=new_id(), incident_pk=inc.pk, kind="escalation", channel="webhook",
                     target="escalation", payload=lifecycle.escalation_payload(inc, a, kind, cfg),
                     status="pending", attempts=0, next_attempt_at=now, created_at=now))
    names = ", ".join(c.name for c in cfg.escalation.contacts) or "(no contacts configured)"
    log.warning("Eskalasi SLA / SLA escalation: case %s OPD %s (%s); contacts: %s",
                inc.case_no, a.opd, kind, names)
    metrics.escalations.labels(kind=kind).inc()
    return True


def _chunks(pks: list[int]) -> list[list[int]]:
    return [pks[i:i + CHUNK] for i in range(0, len(pks), CHUNK)]


def check(db: Database, cfg: SiteConfig, metrics: Metrics, instance: str | None = None) -> int:
    """One pass; returns the number of escalations made by this instance.
    What is due is found in one read-only session; each chunk of it is
    escalated in its own short write transaction (the ingest gets its
    turns); nothing due, no write transaction at all."""
    now = utcnow()
    with db.read_session() as s:
        triage = escalation.due_untriaged(s, cfg, now)
        levels = escalation.due_levels(s, cfg, now)
        plain = _due(s, cfg, now)
    made = 0
    for part in _chunks(triage):
        with db.session() as s:
            made += escalation.untriaged(s, cfg, metrics, now, instance, part)
    for part in _chunks(levels):
        with db.session() as s:
            made += escalation.ladders(s, cfg, metrics, now, instance, part)
    for part in _chunks(plain):
        with db.session() as s:
            rows = s.execute(
                select(Assignment, Incident).join(Incident, Assignment.incident_pk == Incident.pk)
                .where(Assignment.pk.in_(part), Incident.status.in_(OPEN), Assignment.status.in_(OPEN))
            ).all()
            made += sum(_escalate(s, cfg, metrics, a, inc, now) for a, inc in rows)
    return made


class SlaWatch(Periodic):
    name = "sla-watch"

    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics,
                 on_escalation: threading.Event | None = None, instance: str | None = None) -> None:
        super().__init__()
        self.db, self.cfg, self.metrics = db, cfg, metrics
        self.instance = instance
        self.on_escalation = on_escalation

    def period_s(self) -> float:
        return self.cfg.gateway.sla_check_s

    def tick(self) -> None:
        try:
            if check(self.db, self.cfg, self.metrics, self.instance) and self.on_escalation is not None:
                self.on_escalation.set()
        except Exception:
            log.exception("SLA check failed; retrying")

"""SLA timers: an OPD that does not acknowledge or resolve in time is
escalated once (flag, audit row, notification to the escalation contacts)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from gateway import lifecycle
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import Assignment, Incident, Outbox
from protocol.ids import new_id

log = logging.getLogger("gateway.sla")

OPEN = ("dispatched", "acknowledged", "on_scene")
CHUNK = 200  # escalations per write transaction


def _due(db: Database, now: datetime) -> list[int]:
    """Assignments past a limit and not escalated for it yet, found in a
    read-only session: the sweep holds the write lock only when there is
    something to escalate, not while it looks through every open case."""
    with db.read_session() as s:
        rows = s.execute(
            select(Assignment.pk, Assignment.dispatched_at, Assignment.acknowledged_at,
                   Assignment.ack_escalated_at, Assignment.resolve_escalated_at, Assignment.sla_ack_min,
                   Assignment.sla_resolve_min)
            .join(Incident, Assignment.incident_pk == Incident.pk)
            .where(Incident.status.in_(OPEN), Assignment.resolved_at.is_(None),
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
    lifecycle.audit(s, inc, to=inc.status, from_status=inc.status, event="escalation",
                    actor="system", via="sla", opd=a.opd,
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


def check(db: Database, cfg: SiteConfig, metrics: Metrics) -> int:
    """One pass; returns the number of escalations made."""
    now = utcnow()
    made = 0
    due = _due(db, now)
    for i in range(0, len(due), CHUNK):  # short write transactions: the ingest gets its turns
        with db.session() as s:
            rows = s.execute(
                select(Assignment, Incident).join(Incident, Assignment.incident_pk == Incident.pk)
                .where(Assignment.pk.in_(due[i:i + CHUNK]), Incident.status.in_(OPEN),
                       Assignment.resolved_at.is_(None))
            ).all()
            made += sum(_escalate(s, cfg, metrics, a, inc, now) for a, inc in rows)
    return made


class SlaWatch:
    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics,
                 on_escalation: threading.Event | None = None) -> None:
        self.db, self.cfg, self.metrics = db, cfg, metrics
        self.on_escalation = on_escalation
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()  # restartable: the "sla" role may come back (gateway.roles)
        self._thread = threading.Thread(target=self._run, name="sla-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.cfg.gateway.sla_check_s):
            try:
                if check(self.db, self.cfg, self.metrics) and self.on_escalation is not None:
                    self.on_escalation.set()
            except Exception:
                log.exception("SLA check failed; retrying")

"""SLA timers: an OPD that does not acknowledge or resolve in time is
escalated (flag, audit row, notification): up its own ladder when the site
gives it one (:mod:`gateway.escalation`), else once per SLA to the site's
escalation contacts; a case nobody triages in time is escalated too."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import select, update

from gateway import escalation, lifecycle
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import Assignment, Incident, Outbox
from protocol.ids import new_id

log = logging.getLogger("gateway.sla")

OPEN = lifecycle.OPEN_PARTS  # the same three words for cases and parts


def check(db: Database, cfg: SiteConfig, metrics: Metrics, instance: str | None = None) -> int:
    """One pass; returns the number of escalations made by this instance."""
    now = utcnow()
    made = 0
    with db.session() as s:
        made += escalation.untriaged(s, cfg, metrics, now, instance)
        made += escalation.ladders(s, cfg, metrics, now, instance)
        plain = [o.id for o in cfg.opds if not o.escalation]
        rows = s.execute(
            select(Assignment, Incident).join(Incident, Assignment.incident_pk == Incident.pk)
            .where(Incident.status.in_(OPEN), Assignment.status.in_(OPEN), Assignment.opd.in_(plain))
        ).all()
        for a, inc in rows:
            kind = None
            if (a.acknowledged_at is None and a.ack_escalated_at is None and a.sla_ack_min
                    and now > a.dispatched_at + timedelta(minutes=a.sla_ack_min)):
                kind, flag = "ack", Assignment.ack_escalated_at
            elif (a.resolve_escalated_at is None and a.sla_resolve_min
                    and now > a.dispatched_at + timedelta(minutes=a.sla_resolve_min)):
                kind, flag = "resolve", Assignment.resolve_escalated_at
            if kind is None:
                continue
            # a conditional UPDATE: with several instances (PostgreSQL) only one wins
            won = s.execute(update(Assignment).where(Assignment.pk == a.pk, flag.is_(None))
                            .values({flag.key: now})
                            .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if not won:
                continue
            s.refresh(a)
            inc.escalated = True
            limit = a.sla_ack_min if kind == "ack" else a.sla_resolve_min
            lifecycle.event(s, inc, "escalation", actor="system", via="sla", opd=a.opd,
                            note=f"no {'acknowledgement' if kind == 'ack' else 'resolution'} "
                                 f"within {limit:g} min")
            if cfg.escalation.webhook is not None:
                s.add(Outbox(id=new_id(), incident_pk=inc.pk, kind="escalation", channel="webhook",
                             target="escalation",
                             payload=lifecycle.escalation_payload(inc, a, kind, cfg),
                             status="pending", attempts=0, next_attempt_at=now, created_at=now))
            names = ", ".join(c.name for c in cfg.escalation.contacts) or "(no contacts configured)"
            log.warning("Eskalasi SLA / SLA escalation: case %s OPD %s (%s); contacts: %s",
                        inc.case_no, a.opd, kind, names)
            metrics.escalations.labels(kind=kind).inc()
            made += 1
    return made


class SlaWatch:
    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics,
                 on_escalation: threading.Event | None = None, instance: str | None = None) -> None:
        self.db, self.cfg, self.metrics = db, cfg, metrics
        self.instance = instance
        self.on_escalation = on_escalation
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sla-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.cfg.gateway.sla_check_s):
            try:
                if check(self.db, self.cfg, self.metrics, self.instance) and self.on_escalation is not None:
                    self.on_escalation.set()
            except Exception:
                log.exception("SLA check failed; retrying")

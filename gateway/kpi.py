"""KPIs the mayor's dashboard shows: who acted and how fast.

Computed in Python over the period's rows: a city produces thousands of
cases a month, not millions, and exact medians beat approximations here.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.store.models import Assignment, Call, Incident

ANSWER_TARGETS = ((15.0, 0.90), (20.0, 0.95))  # NENA: 90 % within 15 s, 95 % within 20 s


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, math.ceil(p / 100 * len(s)) - 1)
    return s[k]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


class OpdKpi(BaseModel):
    opd: str
    name: str
    count: int = Field(description="Cases dispatched to the OPD in the period")
    acknowledged: int
    resolved: int
    open: int
    ack_median_s: float | None
    ack_p90_s: float | None
    resolve_median_s: float | None
    resolve_p90_s: float | None
    ack_sla_compliance: float | None = Field(description="Share acknowledged within SLA (of decided)")
    resolve_sla_compliance: float | None
    escalations: int


class CallKpi(BaseModel):
    calls: int
    answered: int
    missed: int
    answer_median_s: float | None
    answer_p90_s: float | None
    within_15s: float | None = Field(description="Share of answered calls answered within 15 s")
    within_20s: float | None
    meets_15s_target: bool | None = Field(description="90 % within 15 s (NENA)")
    meets_20s_target: bool | None = Field(description="95 % within 20 s (NENA)")


class KpiReport(BaseModel):
    since: datetime
    until: datetime
    incidents: int
    prank: int
    test: int
    prank_test_share: float | None
    open_backlog: int
    by_category: dict[str, int]
    by_hour: dict[int, int] = Field(description="Incidents by local hour of day (site time zone)")
    opds: list[OpdKpi]
    calls: CallKpi


def _secs(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() if a is not None and b is not None else None


def _compliance(done: list[float], overdue_open: int, limit_s: list[float | None]) -> float | None:
    decided = [d <= lim for d, lim in zip(done, limit_s, strict=True) if lim is not None]
    total = len(decided) + overdue_open
    return sum(decided) / total if total else None


def compute(session: Session, cfg: SiteConfig, since: datetime | None = None,
            until: datetime | None = None) -> KpiReport:
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    tz = ZoneInfo(cfg.site.timezone)
    incs = session.scalars(select(Incident).where(Incident.received_at >= since,
                                                  Incident.received_at < until)).all()
    cats = Counter(i.category for i in incs)
    hours = Counter(i.received_at.astimezone(tz).hour for i in incs)
    from gateway.lifecycle import OPEN_CASE as open_states
    now = utcnow()
    rows = session.execute(select(Assignment).join(Incident, Assignment.incident_pk == Incident.pk)
                           .where(Assignment.dispatched_at >= since,
                                  Assignment.dispatched_at < until,
                                  # declined/re-routed parts do not count against the OPD's speed
                                  Assignment.status.not_in(("declined", "withdrawn")))).scalars().all()
    by_opd: dict[str, list[Assignment]] = {o.id: [] for o in cfg.opds}
    for a in rows:
        by_opd.setdefault(a.opd, []).append(a)
    opds = []
    for opd_id, items in by_opd.items():
        acks, ack_lim, ack_overdue = [], [], 0
        ress, res_lim, res_overdue = [], [], 0
        for a in items:
            t = _secs(a.dispatched_at, a.acknowledged_at)
            if t is not None:
                acks.append(t)
                ack_lim.append(a.sla_ack_min * 60 if a.sla_ack_min else None)
            elif a.sla_ack_min and now > a.dispatched_at + timedelta(minutes=a.sla_ack_min):
                ack_overdue += 1
            t = _secs(a.dispatched_at, a.resolved_at)
            if t is not None:
                ress.append(t)
                res_lim.append(a.sla_resolve_min * 60 if a.sla_resolve_min else None)
            elif a.sla_resolve_min and now > a.dispatched_at + timedelta(minutes=a.sla_resolve_min):
                res_overdue += 1
        conf = cfg.opd(opd_id)
        opds.append(OpdKpi(
            opd=opd_id, name=conf.name if conf else opd_id, count=len(items), acknowledged=len(acks),
            resolved=len(ress), open=sum(1 for a in items if a.resolved_at is None),
            ack_median_s=median(acks), ack_p90_s=percentile(acks, 90),
            resolve_median_s=median(ress), resolve_p90_s=percentile(ress, 90),
            ack_sla_compliance=_compliance(acks, ack_overdue, ack_lim),
            resolve_sla_compliance=_compliance(ress, res_overdue, res_lim),
            escalations=sum(1 for a in items if a.ack_escalated_at or a.resolve_escalated_at),
        ))
    calls = session.scalars(select(Call).where(Call.received_at >= since, Call.received_at < until,
                                               Call.direction == "incoming")).all()
    answered = [c.answer_s for c in calls if c.answer_s is not None]
    w15 = sum(1 for a in answered if a <= 15) / len(answered) if answered else None
    w20 = sum(1 for a in answered if a <= 20) / len(answered) if answered else None
    prank, test = cats.get("prank", 0), cats.get("test", 0)
    return KpiReport(
        since=since, until=until, incidents=len(incs), prank=prank, test=test,
        prank_test_share=(prank + test) / len(incs) if incs else None,
        open_backlog=sum(1 for i in incs if i.status in open_states),
        by_category=dict(sorted(cats.items())), by_hour=dict(sorted(hours.items())), opds=opds,
        calls=CallKpi(
            calls=len(calls), answered=len(answered),
            missed=sum(1 for c in calls if c.end_reason in ("missed", "abandoned", "no_answer")),
            answer_median_s=median(answered), answer_p90_s=percentile(answered, 90),
            within_15s=w15, within_20s=w20,
            meets_15s_target=None if w15 is None else w15 >= ANSWER_TARGETS[0][1],
            meets_20s_target=None if w20 is None else w20 >= ANSWER_TARGETS[1][1],
        ),
    )

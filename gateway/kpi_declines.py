"""KPIs of declines: how often each OPD declines, how long a declined case
waits for its re-dispatch, and which declines an operator judged wrong
(sent the case back to the OPD that declined it), for supervisors.

Kept apart from :mod:`gateway.kpi` (whose SQL helpers it uses: counts
and the rows at the median/p90 ranks come from the database, so a request
reads a few dozen rows however many declines the period holds). A declined
assignment is left out of the OPD's speed figures there; it is counted here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.kpi import _count, _median_p90, _spread, _values_at
from gateway.store.models import Assignment, Incident

RECENT = 200


class DeclineRow(BaseModel):
    case_no: str | None
    incident_id: str
    opd: str
    reason: str
    note: str | None
    declined_at: datetime
    rerouted_after_s: float | None = Field(description="Decline to the next dispatch of the case")
    wrong: bool = Field(description="An operator sent the case back to this OPD afterwards")


class OpdDeclines(BaseModel):
    opd: str
    name: str
    declines: int
    by_reason: dict[str, int]
    wrong: int = Field(description="Declines an operator judged wrong (case sent back)")
    reroute_median_s: float | None = Field(description="Median time from decline to re-dispatch")
    reroute_p90_s: float | None
    waiting: int = Field(description="Declines not re-dispatched yet")


class DeclineReport(BaseModel):
    since: datetime
    until: datetime
    opds: list[OpdDeclines]
    recent: list[DeclineRow] = Field(description="The period's declines, newest first (at most 200)")


def declines(session: Session, cfg: SiteConfig, since: datetime | None = None,
             until: datetime | None = None, *, recent: bool = True) -> DeclineReport:
    """The period's declines per OPD; ``recent``: also the list of the
    latest (the dashboard's board needs only the per-OPD figures)."""
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    where = [Assignment.declined_at.is_not(None), Assignment.declined_at >= since,
             Assignment.declined_at < until]
    from gateway import kpi_rolled
    from gateway.kpi_rollup_read import open_for

    ro = open_for(session, cfg.site.timezone)
    fast = kpi_rolled.declines(ro, cfg, since, until) if ro is not None else None
    out = fast if fast is not None else _per_opd(session, cfg, where)
    return DeclineReport(since=since, until=until, opds=out, recent=_recent(session, where) if recent else [])


def _per_opd(session: Session, cfg: SiteConfig, where: list[Any]) -> list[OpdDeclines]:
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    wrong: Counter[str] = Counter()
    rerouted: Counter[str] = Counter()
    for opd, reason, n, n_wrong, n_rerouted in session.execute(
            select(Assignment.opd, Assignment.decline_reason, func.count(),
                   _count(Assignment.decline_wrong.is_(True)), func.count(Assignment.rerouted_at))
            .where(*where).group_by(Assignment.opd, Assignment.decline_reason)):
        by_reason[opd][reason] += n
        wrong[opd] += n_wrong
        rerouted[opd] += n_rerouted
    at = _values_at(session, Assignment.reroute_us, Assignment.opd,
                    [*where, Assignment.rerouted_at.is_not(None)], _spread(dict(rerouted)))
    out = []
    for o in cfg.opds:
        n = sum(by_reason[o.id].values())
        med, p90 = _median_p90(at, o.id, rerouted[o.id], 1e6)
        out.append(OpdDeclines(
            opd=o.id, name=o.name, declines=n, by_reason=dict(by_reason[o.id]), wrong=wrong[o.id],
            reroute_median_s=med, reroute_p90_s=p90, waiting=n - rerouted[o.id]))
    return out


def _recent(session: Session, where: list[Any]) -> list[DeclineRow]:
    return [
        DeclineRow(case_no=case_no, incident_id=inc_id, opd=opd, reason=reason, note=note,
                   declined_at=declined, wrong=bool(is_wrong),
                   rerouted_after_s=(back - declined).total_seconds() if back and declined else None)
        for opd, reason, note, declined, back, is_wrong, case_no, inc_id in session.execute(
            select(Assignment.opd, Assignment.decline_reason, Assignment.decline_note,
                   Assignment.declined_at, Assignment.rerouted_at, Assignment.decline_wrong,
                   Incident.case_no, Incident.id)
            .join(Incident, Assignment.incident_pk == Incident.pk).where(*where)
            .order_by(Assignment.declined_at.desc()).limit(RECENT))]

"""KPIs of declines: how often each OPD declines, how long a declined case
waits for its re-dispatch, and which declines an operator judged wrong
(sent the case back to the OPD that declined it), for supervisors.

Kept apart from :mod:`gateway.kpi` so the main report's queries can change
without touching these. A declined assignment is left out of the OPD's
speed figures there; it is counted here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.kpi import median, percentile
from gateway.store.models import Assignment, Incident


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
             until: datetime | None = None) -> DeclineReport:
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    rows = session.execute(
        select(Assignment, Incident.case_no, Incident.id)
        .join(Incident, Assignment.incident_pk == Incident.pk)
        .where(Assignment.declined_at.is_not(None), Assignment.declined_at >= since,
               Assignment.declined_at < until)
        .order_by(Assignment.declined_at.desc())).all()
    by_opd: dict[str, list[DeclineRow]] = defaultdict(list)
    recent = []
    for a, case_no, inc_id in rows:
        assert a.declined_at is not None and a.decline_reason is not None
        after = (a.rerouted_at - a.declined_at).total_seconds() if a.rerouted_at else None
        r = DeclineRow(case_no=case_no, incident_id=inc_id, opd=a.opd, reason=a.decline_reason,
                       note=a.decline_note, declined_at=a.declined_at, rerouted_after_s=after,
                       wrong=a.decline_wrong)
        by_opd[a.opd].append(r)
        recent.append(r)
    out = []
    for o in cfg.opds:
        items = by_opd.get(o.id, [])
        waits = [r.rerouted_after_s for r in items if r.rerouted_after_s is not None]
        out.append(OpdDeclines(
            opd=o.id, name=o.name, declines=len(items), by_reason=dict(Counter(r.reason for r in items)),
            wrong=sum(r.wrong for r in items), reroute_median_s=median(waits),
            reroute_p90_s=percentile(waits, 90), waiting=len(items) - len(waits)))
    return DeclineReport(since=since, until=until, opds=out, recent=recent[:200])

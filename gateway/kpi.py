"""KPIs the mayor's dashboard shows: who acted and how fast.

Computed by the database: counts, SLA compliance and the rows at the
median/p90 ranks come from SQL aggregates and window functions, so a poll
reads a few dozen result rows however long the history is (the old way,
30 days of ORM rows per poll, stalled the intake at 20,000 cases). The
definitions are exact and unchanged: durations in whole microseconds,
nearest-rank p90, the median of two middle values averaged, the same float
comparisons against the SLA. Works on SQLite and PostgreSQL alike.
An OPD's figures leave out the parts it declined or that were re-routed
away from it (the declines have their own report, ``kpi_declines``).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Float, and_, case, cast, extract, func, literal, literal_column, select
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.lifecycle import GONE, OPEN_CASE
from gateway.store.models import Assignment, Call, Incident

ANSWER_TARGETS = ((15.0, 0.90), (20.0, 0.95))  # NENA: 90 % within 15 s, 95 % within 20 s
OPEN_STATES = tuple(sorted(s.value for s in OPEN_CASE))  # the cases service's "not finished" states
MISSED_REASONS = ("missed", "abandoned", "no_answer")
BUCKET_S = 900  # in a zone whose offset changes within the period, incidents are counted per
#                 15 UTC minutes, then per local hour (every offset and DST switch is a multiple of
#                 15 minutes); with one offset, SQL counts per local hour at once


def percentile_rank(n: int, p: float) -> int:
    """0-based index of the nearest-rank percentile ``p`` (0..100) of ``n`` sorted values."""
    return max(0, math.ceil(p / 100 * n) - 1)


def median_ranks(n: int) -> tuple[int, ...]:
    """0-based indexes averaged for the median of ``n`` sorted values."""
    return (n // 2,) if n % 2 else (n // 2 - 1, n // 2)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    return sorted(values)[percentile_rank(len(values), p)]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return _mid([s[i] for i in median_ranks(len(s))])


def _mid(v: list[float]) -> float:
    return v[0] if len(v) == 1 else (v[0] + v[1]) / 2


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
    computed_at: datetime = Field(description="When this snapshot was computed (shared by all viewers "
                                              "for up to gateway.kpi_snapshot_s seconds)")
    incidents: int
    prank: int
    test: int
    prank_test_share: float | None
    open_backlog: int
    by_category: dict[str, int]
    by_hour: dict[int, int] = Field(description="Incidents by local hour of day (site time zone)")
    opds: list[OpdKpi]
    calls: CallKpi


def _epoch(session: Session, x: Any) -> Any:
    """Whole seconds since 1970 of the UTC timestamp ``x``."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", func.substr(x, 1, 19)), BigInteger)
    return cast(extract("epoch", func.date_trunc("second", x)), BigInteger)


FIXED_OFFSET_MAX_DAYS = 800  # longer periods (any ``since``/``until`` an API client sends) take the
#                              general path instead of a check per half day


def _fixed_offset(tz: ZoneInfo, since: datetime, until: datetime) -> int | None:
    """The zone's UTC offset in seconds if it is the same all through the
    period (checked every 12 hours, on the UTC instants); None otherwise."""
    if until - since > timedelta(days=FIXED_OFFSET_MAX_DAYS):
        return None
    offs = set()
    t = since
    try:
        while t < until + timedelta(hours=12):
            offs.add(t.astimezone(tz).utcoffset())
            t += timedelta(hours=12)
    except OverflowError:  # at the ends of the calendar (year 1, 9999)
        return None
    return int(offs.pop().total_seconds()) if len(offs) == 1 else None  # type: ignore[union-attr]


def _local_hours(session: Session, col: Any, where: list[Any], tz: ZoneInfo, since: datetime,
                 until: datetime) -> Counter[datetime]:
    """Rows by local hour (the hour's local start). Grouped in SQL by local
    hour when the zone keeps one offset (every Indonesian zone), else by
    15 UTC minutes and moved to local hours here."""
    off = _fixed_offset(tz, since, until)
    step, shift = (3600, off) if off is not None else (BUCKET_S, 0)
    b = (_epoch(session, col) + shift) // step
    out: Counter[datetime] = Counter()
    for k, n in session.execute(select(b, func.count()).where(*where).group_by(b)):
        local = datetime.fromtimestamp(int(k) * step - shift, UTC).astimezone(tz)
        out[local.replace(minute=0, second=0, microsecond=0)] += n
    return out


def _count(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _values_at(session: Session, value: Any, group: Any | None, where: list[Any],
               want: dict[Any, set[int]]) -> dict[tuple[Any, int], float]:
    """The ``value`` at each wanted 0-based rank (ascending) within its
    ``group`` (None: one group, 0): one window-function query, a few rows back."""
    ranks = set().union(*want.values()) if want else set()
    if not ranks:
        return {}
    rn = func.row_number().over(partition_by=group, order_by=value) - 1
    g = literal_column("0") if group is None else group
    inner = select(g.label("g"), value.label("v"), rn.label("rn")).where(*where).subquery()
    rows = session.execute(select(inner.c.g, inner.c.v, inner.c.rn).where(inner.c.rn.in_(ranks)))
    return {(g, r): v for g, v, r in rows if r in want.get(g, ())}


def _spread(n_by_group: dict[Any, int]) -> dict[Any, set[int]]:
    return {g: {*median_ranks(n), percentile_rank(n, 90)} for g, n in n_by_group.items() if n}


def _median_p90(at: dict[tuple[Any, int], float], g: Any, n: int,
                scale: float = 1.0) -> tuple[float | None, float | None]:
    if not n:
        return None, None
    return (_mid([at[g, i] / scale for i in median_ranks(n)]), at[g, percentile_rank(n, 90)] / scale)


def _sla(session: Session, done_at: Any, dur: Any, limit_min: Any, where: list[Any],
         now: datetime) -> dict[str, Any]:
    """Aggregates for one clock (ack or resolve): how many done, decided
    within the limit, and still open past it (overdue). ``dur``: the clock's
    microseconds, a column the database keeps (gateway/store/durations.py)."""
    has_limit = and_(limit_min.is_not(None), limit_min != 0)
    decided = and_(done_at.is_not(None), has_limit)
    in_time = and_(decided, cast(dur, Float) / literal(1e6, Float) <= limit_min * 60)
    # overdue: now > dispatched_at + limit, with the limit per distinct SLA value
    limits = session.scalars(select(limit_min).distinct().where(*where, done_at.is_(None), has_limit)).all()
    overdue = case(*[(and_(done_at.is_(None), limit_min == m,
                           Assignment.dispatched_at < now - timedelta(minutes=m)), 1) for m in limits],
                   else_=0) if limits else literal(0)
    return {"done": func.count(done_at), "decided": _count(decided), "in_time": _count(in_time),
            "overdue": func.coalesce(func.sum(overdue), 0), "dur": dur}


def _compliance(in_time: int, decided: int, overdue: int) -> float | None:
    total = decided + overdue
    return in_time / total if total else None


def _opds(session: Session, cfg: SiteConfig, since: datetime, until: datetime, now: datetime) -> list[OpdKpi]:
    from gateway import kpi_rolled
    from gateway.kpi_rollup_read import open_for

    ro = open_for(session, cfg.site.timezone)
    if ro is not None and (fast := kpi_rolled.opds(ro, cfg, since, until, now)) is not None:
        return fast
    return _opds_raw(session, cfg, since, until, now)


def _opds_raw(session: Session, cfg: SiteConfig, since: datetime, until: datetime,
              now: datetime) -> list[OpdKpi]:
    # declined / re-routed parts do not count against the OPD's speed
    where = [Assignment.dispatched_at >= since, Assignment.dispatched_at < until,
             Assignment.status.not_in(sorted(GONE))]
    ack = _sla(session, Assignment.acknowledged_at, Assignment.ack_us, Assignment.sla_ack_min, where, now)
    res = _sla(session, Assignment.resolved_at, Assignment.resolve_us, Assignment.sla_resolve_min, where,
               now)
    rows = session.execute(select(Assignment.opd).where(*where).add_columns(
        func.count(), func.min(Assignment.pk), _count(Assignment.resolved_at.is_(None)),
        _count((Assignment.ack_escalated_at.is_not(None)) | (Assignment.resolve_escalated_at.is_not(None))),
        ack["done"], ack["decided"], ack["in_time"], ack["overdue"],
        res["done"], res["decided"], res["in_time"], res["overdue"],
    ).group_by(Assignment.opd)).all()
    agg = {r[0]: r for r in rows}
    order = [o.id for o in cfg.opds] + [r[0] for r in sorted(rows, key=lambda r: r[2])
                                        if cfg.opd(r[0]) is None]

    def at(clock: dict[str, Any], done_at: Any, col: int) -> dict[tuple[Any, int], float]:
        want = _spread({g: r[col] for g, r in agg.items()})
        return _values_at(session, clock["dur"], Assignment.opd,
                          [*where, done_at.is_not(None)], want)

    ack_at = at(ack, Assignment.acknowledged_at, 5)
    res_at = at(res, Assignment.resolved_at, 9)
    out = []
    for opd_id in order:
        r = agg.get(opd_id) or (opd_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        (_, count, _, open_, esc, n_ack, ack_dec, ack_ok, ack_late, n_res, res_dec, res_ok, res_late) = r
        ack_med, ack_p90 = _median_p90(ack_at, opd_id, n_ack, 1e6)
        res_med, res_p90 = _median_p90(res_at, opd_id, n_res, 1e6)
        conf = cfg.opd(opd_id)
        out.append(OpdKpi(
            opd=opd_id, name=conf.name if conf else opd_id, count=count, acknowledged=n_ack,
            resolved=n_res, open=open_, ack_median_s=ack_med, ack_p90_s=ack_p90,
            resolve_median_s=res_med, resolve_p90_s=res_p90,
            ack_sla_compliance=_compliance(ack_ok, ack_dec, ack_late),
            resolve_sla_compliance=_compliance(res_ok, res_dec, res_late), escalations=esc))
    return out


def _calls(session: Session, since: datetime, until: datetime) -> CallKpi:
    where = [Call.received_at >= since, Call.received_at < until, Call.direction == "incoming"]
    ans = Call.answer_s
    n, answered, missed, w15, w20 = session.execute(select(
        func.count(), func.count(ans), _count(Call.end_reason.in_(MISSED_REASONS)),
        _count(ans <= ANSWER_TARGETS[0][0]), _count(ans <= ANSWER_TARGETS[1][0])).where(*where)).one()
    at = _values_at(session, ans, None, [*where, ans.is_not(None)], _spread({0: answered}))
    med, p90 = _median_p90(at, 0, answered)
    s15 = w15 / answered if answered else None
    s20 = w20 / answered if answered else None
    return CallKpi(calls=n, answered=answered, missed=missed, answer_median_s=med, answer_p90_s=p90,
                   within_15s=s15, within_20s=s20,
                   meets_15s_target=None if s15 is None else s15 >= ANSWER_TARGETS[0][1],
                   meets_20s_target=None if s20 is None else s20 >= ANSWER_TARGETS[1][1])


def compute(session: Session, cfg: SiteConfig, since: datetime | None = None,
            until: datetime | None = None, *, local_hours: Counter[datetime] | None = None) -> KpiReport:
    """The KPIs of incidents received, assignments dispatched and incoming
    calls in ``[since, until)`` (default: the last 30 days). ``local_hours``:
    the period's incidents by local hour when the caller has them."""
    from gateway import kpi_rolled
    from gateway.kpi_rollup_read import open_for

    now = utcnow()
    until = until or now
    since = since or until - timedelta(days=30)
    tz = ZoneInfo(cfg.site.timezone)
    ro = open_for(session, cfg.site.timezone)
    calls = kpi_rolled.calls(ro, since, until) if ro is not None else None
    if ro is not None:  # the rollups: per local day sums (gateway.kpi_rollup)
        cats, backlog = kpi_rolled.incidents(ro, since, until)
        if local_hours is None:
            local_hours = kpi_rolled.hours(ro, since, until)
    else:
        where = [Incident.received_at >= since, Incident.received_at < until]
        cats = Counter()
        backlog = 0
        for cat, status, n in session.execute(select(Incident.category, Incident.status, func.count())
                                              .where(*where).group_by(Incident.category, Incident.status)):
            cats[cat] += n
            backlog += n if status in OPEN_STATES else 0
        if local_hours is None:  # the dashboard's board has counted them already (its heat map)
            local_hours = _local_hours(session, Incident.received_at, where, tz, since, until)
    hours: Counter[int] = Counter()
    for local, n in local_hours.items():
        hours[local.hour] += n
    total = sum(cats.values())
    prank, test = cats.get("prank", 0), cats.get("test", 0)
    return KpiReport(
        since=since, until=until, computed_at=now, incidents=total, prank=prank, test=test,
        prank_test_share=(prank + test) / total if total else None, open_backlog=backlog,
        by_category=dict(sorted(cats.items())), by_hour=dict(sorted(hours.items())),
        opds=_opds(session, cfg, since, until, now), calls=calls or _calls(session, since, until),
    )

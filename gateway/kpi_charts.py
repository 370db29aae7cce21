"""The dashboard's chart series, computed by the database.

Beside :mod:`gateway.kpi` (the per-OPD table and the call figures), the
charts need series over time and over the week: each OPD's cases and
median time to acknowledge per day, week or month of the period (its
trend), cases by local hour x weekday, call types over time, and 112
answer times in bands with the unanswered calls by reason. As there, SQL
groups and ranks and a request reads a few hundred rows whatever the
history holds. Time buckets are local (the site's zone): their edges are
computed here and handed to SQL, so a DST switch or a zone's offset needs
no date arithmetic in the database.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from gateway.kpi import MISSED_REASONS, _count, _local_hours, _mid, median_ranks
from gateway.lifecycle import GONE
from gateway.store.models import Assignment, Call, Incident

SHORT_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")  # Monday first
#: 112 answer-time bands (upper bounds, seconds; the last is open)
ANSWER_BANDS = (5.0, 10.0, 15.0, 20.0, 30.0, 60.0)


class Buckets(BaseModel):
    step: str = Field(description="day | week | month")
    starts: list[datetime] = Field(description="Each bucket's start (UTC); the first is the period's")
    labels: list[str] = Field(description="Each bucket in words (Bahasa Indonesia)")


class OpdTrend(BaseModel):
    opd: str
    count: list[int] = Field(description="Cases dispatched to the OPD per bucket (declined and "
                                         "re-routed parts left out, as in the OPD table)")
    ack_median_s: list[float | None]


class AnswerBands(BaseModel):
    labels: list[str]
    upper_s: list[float | None] = Field(description="Each band's upper bound (None: open)")
    counts: list[int] = Field(description="Answered incoming calls per band")
    end_reasons: dict[str, int] = Field(description="Incoming calls by how they ended")
    missed: int = Field(description="Rang and never answered (missed + no_answer)")
    abandoned: int = Field(description="The caller hung up before the answer")


class Charts(BaseModel):
    buckets: Buckets
    trend: list[OpdTrend]
    heatmap: list[list[int]] = Field(description="Cases by weekday (7 rows, Monday first) x local hour (24)")
    weekdays: list[str]
    call_types: dict[str, list[int]] = Field(description="Incoming calls per bucket by call type "
                                                         "('untyped': not typed by the operator)")
    answers: AnswerBands
    rerouted: dict[str, int] = Field(
        description="Parts re-routed away from each OPD (withdrawn) in the period")


def _next_edge(local: datetime, step: str) -> datetime:
    d = local.date()
    if step == "day":
        nd = d + timedelta(days=1)
    elif step == "week":
        nd = d + timedelta(days=7 - d.weekday())
    else:
        nd = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return datetime.combine(nd, datetime.min.time(), local.tzinfo)


def buckets(since: datetime, until: datetime, tz: ZoneInfo) -> Buckets:
    """Days up to 14 days, (Monday) weeks up to ~4 months, months beyond."""
    days = (until - since).total_seconds() / 86400
    step = "day" if days <= 14 else "week" if days <= 124 else "month"
    starts, labels = [], []
    local = since.astimezone(tz)
    while local.astimezone(UTC) < until:
        starts.append(local.astimezone(UTC))
        d = local.date()
        labels.append(f"{SHORT_MONTHS[d.month - 1]} {d.year}" if step == "month" else
                      f"{'Pekan ' if step == 'week' else ''}{d.day} {SHORT_MONTHS[d.month - 1]}")
        local = _next_edge(local, step)
    return Buckets(step=step, starts=starts, labels=labels)


def _bucket_of(col: Any, starts: list[datetime]) -> Any:
    """SQL: the index of the bucket ``col`` falls in (rows are already inside the period)."""
    if len(starts) == 1:
        return literal(0)
    return case(*[(col < s, i) for i, s in enumerate(starts[1:])], else_=len(starts) - 1)


def _trend(session: Session, since: datetime, until: datetime, starts: list[datetime],
           opds: list[str]) -> list[OpdTrend]:
    where = [Assignment.dispatched_at >= since, Assignment.dispatched_at < until,
             Assignment.status.not_in(sorted(GONE))]
    b = _bucket_of(Assignment.dispatched_at, starts)
    n = len(starts)
    count: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    acked: dict[tuple[str, int], int] = {}
    for opd, k, total, n_ack in session.execute(
            select(Assignment.opd, b, func.count(), func.count(Assignment.acknowledged_at))
            .where(*where).group_by(Assignment.opd, b)):
        count[opd][int(k)] = total
        if n_ack:
            acked[opd, int(k)] = n_ack
    # the middle rows of each (OPD, bucket): one window query
    dur = Assignment.ack_us
    rn = func.row_number().over(partition_by=(Assignment.opd, b), order_by=dur) - 1
    inner = select(Assignment.opd.label("o"), b.label("k"), dur.label("v"), rn.label("rn")).where(
        *where, Assignment.acknowledged_at.is_not(None)).subquery()
    ranks = {r for c in acked.values() for r in median_ranks(c)}
    at: dict[tuple[str, int, int], float] = {}
    if ranks:
        for o, k, v, r in session.execute(select(inner.c.o, inner.c.k, inner.c.v, inner.c.rn)
                                          .where(inner.c.rn.in_(sorted(ranks)))):
            at[o, int(k), int(r)] = v
    out = []
    for opd in opds + sorted(set(count) - set(opds)):
        meds: list[float | None] = []
        for k in range(n):
            c = acked.get((opd, k), 0)
            meds.append(_mid([at[opd, k, i] / 1e6 for i in median_ranks(c)]) if c else None)
        out.append(OpdTrend(opd=opd, count=list(count[opd]) if opd in count else [0] * n,
                            ack_median_s=meds))
    return out


def _band_labels() -> list[str]:
    labels = [f"≤{ANSWER_BANDS[0]:.0f} detik"]
    labels += [f"{lo:.0f}–{hi:.0f} detik" for lo, hi in itertools.pairwise(ANSWER_BANDS)]
    labels.append(f">{ANSWER_BANDS[-1]:.0f} detik")
    return labels


def _answers(session: Session, where: list[Any]) -> AnswerBands:
    ans = Call.answer_s
    cols = [_count(ans.is_not(None) & (ans <= ANSWER_BANDS[0]))]
    cols += [_count((ans > lo) & (ans <= hi)) for lo, hi in itertools.pairwise(ANSWER_BANDS)]
    cols.append(_count(ans > ANSWER_BANDS[-1]))
    counts = [int(x) for x in session.execute(select(*cols).where(*where)).one()]
    labels = _band_labels()
    reasons = {r: int(n) for r, n in session.execute(
        select(Call.end_reason, func.count()).where(*where).group_by(Call.end_reason))}
    return AnswerBands(labels=labels, upper_s=[*ANSWER_BANDS, None], counts=counts,
                       end_reasons=dict(sorted(reasons.items())),
                       missed=sum(n for r, n in reasons.items() if r in MISSED_REASONS and r != "abandoned"),
                       abandoned=reasons.get("abandoned", 0))


def incident_hours(session: Session, since: datetime, until: datetime, tz_name: str) -> Counter[datetime]:
    """The period's incidents by local hour (for the heat map and the KPI report's hours)."""
    from gateway import kpi_rolled
    from gateway.kpi_rollup_read import open_for

    ro = open_for(session, tz_name)
    if ro is not None:
        return kpi_rolled.hours(ro, since, until)
    return _local_hours(session, Incident.received_at,
                        [Incident.received_at >= since, Incident.received_at < until],
                        ZoneInfo(tz_name), since, until)


def compute(session: Session, since: datetime, until: datetime, tz_name: str, opds: list[str],
            hours: Counter[datetime] | None = None) -> Charts:
    tz = ZoneInfo(tz_name)
    bk = buckets(since, until, tz)
    heat = [[0] * 24 for _ in range(7)]
    if hours is None:
        hours = incident_hours(session, since, until, tz_name)
    for local, n in hours.items():
        heat[local.weekday()][local.hour] += n
    from gateway import kpi_rolled
    from gateway.kpi_rollup_read import open_for

    ro = open_for(session, tz_name)
    fast = kpi_rolled.charts(ro, since, until, bk.starts, opds) if ro is not None else None
    if fast is not None:  # the rollups (gateway.kpi_rollup): the same series from per-day sums
        reasons = fast["reasons"]
        return Charts(
            buckets=bk, trend=[OpdTrend(opd=o, count=c, ack_median_s=m) for o, c, m in fast["trend"]],
            heatmap=heat, weekdays=list(WEEKDAYS), call_types=fast["call_types"],
            answers=AnswerBands(labels=_band_labels(), upper_s=[*ANSWER_BANDS, None], counts=fast["bands"],
                                end_reasons=dict(sorted(reasons.items())),
                                missed=sum(n for r, n in reasons.items()
                                           if r in MISSED_REASONS and r != "abandoned"),
                                abandoned=reasons.get("abandoned", 0)),
            rerouted=fast["rerouted"])
    call_where = [Call.received_at >= since, Call.received_at < until, Call.direction == "incoming"]
    cb = _bucket_of(Call.received_at, bk.starts)
    types: dict[str, list[int]] = defaultdict(lambda: [0] * len(bk.starts))
    for ctype, k, n in session.execute(select(Call.call_type, cb, func.count()).where(*call_where)
                                       .group_by(Call.call_type, cb)):
        types[ctype or "untyped"][int(k)] += n
    rerouted = {o: int(n) for o, n in session.execute(
        select(Assignment.opd, func.count()).where(
            Assignment.dispatched_at >= since, Assignment.dispatched_at < until,
            Assignment.status == "withdrawn").group_by(Assignment.opd))}
    return Charts(buckets=bk, trend=_trend(session, since, until, bk.starts, opds), heatmap=heat,
                  weekdays=list(WEEKDAYS), call_types=dict(sorted(types.items())),
                  answers=_answers(session, call_where), rerouted=rerouted)

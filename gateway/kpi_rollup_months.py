"""Month sums of the per-day KPI rollups (:mod:`gateway.kpi_rollup`).

A year's dashboard summed ~365 day rows per key (88,000 histogram rows at
1,000,000 cases a year); the month tables (``kpi_month_*``, the day
tables' twins, ``day`` = the month's first local day) hold each month's
sum, rewritten from its day rows in the same transaction that rewrites
any of its days, so a month row always equals the sum of its stored days.
Readers (:mod:`gateway.kpi_rollup_read`) use a month row only where every
day of the month is a stored clean day of the period and of one chart
bucket; a month with a dirty or partial day is read day by day as before.
``kpi_meta`` key ``months`` says the months were built (a database
migrated past ``0007_kpi_months`` is summed once after its migration).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.orm import Session

from gateway.store.models_kpi import (
    KpiMeta,
    KpiMonthAssignment,
    KpiMonthCall,
    KpiMonthDecline,
    KpiMonthHistogram,
    KpiMonthHour,
    KpiMonthIncident,
    KpiMonthMedian,
)

META_KEY = "months"
#: rollup table name (gateway.kpi_rollup.TABLES) -> its month twin
MONTHS: dict[str, Any] = {"asg": KpiMonthAssignment, "hist": KpiMonthHistogram, "inc": KpiMonthIncident,
                          "hour": KpiMonthHour, "call": KpiMonthCall, "decl": KpiMonthDecline}
MAXED = ("ack_olim_max", "res_olim_max")  # the largest open SLA limit, not a sum


def first_day(day: int) -> int:
    """Ordinal of the first day of the month holding local day ``day``."""
    return date.fromordinal(day).replace(day=1).toordinal()


def last_day(first: int) -> int:
    d = date.fromordinal(first)
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt.toordinal() - 1


def built(session: Session) -> bool:
    return session.scalar(select(KpiMeta.value).where(KpiMeta.key == META_KEY)) is not None


def rewrite(session: Session, firsts: Iterable[int], tz: ZoneInfo) -> None:
    """Sum the given months again from their day rows, and find their ack
    medians (in the caller's transaction)."""
    from gateway.kpi_rollup import TABLES

    for m in sorted(set(firsts)):
        end = last_day(m)
        for name, (model, keys, cols) in TABLES.items():
            month = MONTHS[name]
            session.execute(delete(month).where(month.day == m))
            aggs = [(func.max if c in MAXED else func.sum)(getattr(model, c)) for c in cols]
            session.execute(insert(month).from_select(
                ["day", *keys, *cols],
                select(literal(m), *[getattr(model, k) for k in keys], *aggs)
                .where(model.day >= m, model.day <= end).group_by(*[getattr(model, k) for k in keys])))
        _medians(session, m, tz)


def _medians(session: Session, first: int, tz: ZoneInfo) -> None:
    """The month's exact ack median per OPD, from its band counts (just
    summed) and one batch of band reads, as a reader would find it."""
    from gateway.kpi import median_ranks
    from gateway.kpi_rollup import ACK, midnight
    from gateway.kpi_rollup_read import RankAsk, Rollups

    session.execute(delete(KpiMonthMedian).where(KpiMonthMedian.day == first))
    bands: dict[str, dict[int, int]] = {}
    h: Any = KpiMonthHistogram
    for opd, band, n in session.execute(select(h.opd, h.band, h.n).where(h.clock == ACK, h.day == first)):
        if n:
            bands.setdefault(opd, {})[band] = n
    if not bands:
        return
    since, until = midnight(first, tz), midnight(last_day(first) + 1, tz)
    opds = sorted(bands)
    counts = {o: sum(bands[o].values()) for o in opds}
    found = Rollups(session, str(tz), set()).at_ranks_many(
        [RankAsk(ACK, o, since, until, bands[o], set(median_ranks(counts[o]))) for o in opds])
    rows = []
    for o, at in zip(opds, found, strict=True):
        if at is None:  # the rows and the counts disagree: readers read this month live
            continue
        ranks = median_ranks(counts[o])
        rows.append({"clock": ACK, "day": first, "opd": o, "n": counts[o], "lo": at[ranks[0]],
                     "hi": at[ranks[-1]]})
    if rows:
        session.execute(insert(KpiMonthMedian), rows)


def rebuild(session: Session, tz: ZoneInfo) -> int:
    """Every month again from the day rows; marks the months built. Returns the months."""
    from gateway.kpi_rollup import TABLES

    for month in (*MONTHS.values(), KpiMonthMedian):
        session.execute(delete(month))
    days: set[int] = set()
    for model, _keys, _cols in TABLES.values():
        days |= set(session.scalars(select(model.day).distinct()))
    firsts = {first_day(d) for d in days}
    rewrite(session, firsts, tz)
    session.execute(delete(KpiMeta).where(KpiMeta.key == META_KEY))
    session.execute(insert(KpiMeta), [{"key": META_KEY, "value": "1"}])
    return len(firsts)


def verify(session: Session) -> list[int]:
    """First days of the months whose rows differ from the sums of their day rows."""
    from gateway.kpi_rollup import TABLES

    bad: set[int] = set()
    for name, (model, keys, cols) in TABLES.items():
        month = MONTHS[name]
        have: dict[tuple[Any, ...], tuple[Any, ...]] = {
            tuple(r[:len(keys) + 1]): tuple(r[len(keys) + 1:])
            for r in session.execute(select(month.day, *[getattr(month, k) for k in keys],
                                            *[getattr(month, c) for c in cols]))}
        want: dict[tuple[Any, ...], list[Any]] = {}
        for r in session.execute(select(model.day, *[getattr(model, k) for k in keys],
                                        *[getattr(model, c) for c in cols])):
            key = (first_day(r[0]), *r[1:len(keys) + 1])
            acc = want.get(key)
            vals = list(r[len(keys) + 1:])
            if acc is None:
                want[key] = vals
                continue
            for i, (c, v) in enumerate(zip(cols, vals, strict=True)):
                if c in MAXED:
                    acc[i] = v if acc[i] is None else acc[i] if v is None else max(acc[i], v)
                else:
                    acc[i] += v
        for key in set(have) | set(want):
            if have.get(key) != (tuple(want[key]) if key in want else None):
                bad.add(key[0])
    return sorted(bad)

"""Reading the KPI rollups (:mod:`gateway.kpi_rollup`) for a period.

A period (or each bucket of a chart) is cut at local midnights: the whole
days whose rollup is stored, clean and built for the site's zone are summed
by SQL over the ``kpi_day_*`` tables; every other piece (a partial first or
last day, a dirty day, a day whose open parts are not all overdue yet) is
built from the raw rows on the fly. Medians and p90 come from the summed
band counts and one indexed read of the band holding the rank. The answers
are the raw definitions' (the tests compare them with :mod:`gateway.kpi`'s
SQL and with plain Python); when the rollups cannot be trusted (no
triggers, another zone) :func:`open_for` says None and the callers read raw.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, func, inspect, select, text
from sqlalchemy.orm import Session

from gateway import kpi_rollup as R
from gateway import kpi_rollup_months as M
from gateway.lifecycle import GONE
from gateway.store.models import UTCDateTime
from gateway.store.models_kpi import KpiDayAssignment, KpiDirty, KpiMonthMedian

INFO_KEY = "kpi_rollups"
MAX_DIRTY = 7  # more dirty UTC days than this: read raw until refreshed (14 days per computation)
LONG = timedelta(days=400)  # a plan longer than this is first cut to the days holding rows
CHUNK = 200  # band reads per statement (SQLite allows 500 terms in a compound SELECT)
RAW_KEY = "kpi_raw"  # set in a session's info: read raw rows only (the tests' reference)


@dataclass
class Plan:
    groups: list[tuple[datetime, datetime]]
    stored: list[tuple[int, int]] = field(default_factory=list)  # (day, group)
    raw: list[tuple[int, datetime, datetime, int]] = field(default_factory=list)  # (day, start, end, group)


class Rollups:
    def __init__(self, session: Session, tz_name: str, dirty: set[int], months: bool = False) -> None:
        self.s = session
        self.tz = ZoneInfo(tz_name)
        self.dirty = dirty
        self.months = months  # the month sums are built (gateway.kpi_rollup_months)
        self._built: dict[tuple[datetime, datetime], R.DayAgg] = {}

    # -- the period cut into stored days and raw pieces
    def plan(self, since: datetime, until: datetime, starts: list[datetime] | None = None,
             now: datetime | None = None) -> Plan:
        """``starts``: the groups' starts (chart buckets; the first is ``since``);
        ``now``: leave raw the days whose open parts are not all overdue at ``now``."""
        groups = self._within_data(list(itertools.pairwise([*(starts or [since]), until])))
        skip = set(self.dirty)
        p = self._cut(groups, skip)
        if now is not None and p.stored:
            days = [d for d, _ in p.stored]
            late = set()
            for day, a, r in self.s.execute(
                    select(KpiDayAssignment.day, func.max(KpiDayAssignment.ack_olim_max),
                           func.max(KpiDayAssignment.res_olim_max))
                    .where(KpiDayAssignment.day >= min(days), KpiDayAssignment.day <= max(days),
                           (KpiDayAssignment.ack_olim > 0) | (KpiDayAssignment.res_olim > 0))
                    .group_by(KpiDayAssignment.day)):
                lim = max(x for x in (a, r, 0.0) if x is not None)
                if R.midnight(day + 1, self.tz) > now - timedelta(minutes=lim):
                    late.add(day)
            if late:
                p = self._cut(groups, skip | late)
        return p

    def _within_data(self, groups: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
        """A long period (``/api/kpis?since=1316-09-12``) is cut to the days that
        hold rows: the plan walks day by day, and seven centuries of empty days
        took longer than a client waits. Days without rows add nothing."""
        if not groups or groups[-1][1] - groups[0][0] <= LONG:
            return groups
        bounds = R.data_days(self.s, self.tz)
        if bounds is None:
            return [(gs, gs) for gs, _ in groups]
        lo, hi = R.midnight(bounds[0], self.tz), R.midnight(bounds[1] + 1, self.tz)
        return [(min(max(gs, lo), hi), max(min(gu, hi), lo)) for gs, gu in groups]

    def _cut(self, groups: list[tuple[datetime, datetime]], skip: set[int]) -> Plan:
        p = Plan(groups)
        for g, (gs, gu) in enumerate(groups):
            t = gs
            while t < gu:
                d = R.day_of(t, self.tz)
                nxt = R.midnight(d + 1, self.tz)
                if t == R.midnight(d, self.tz) and nxt <= gu and d not in skip:
                    p.stored.append((d, g))
                else:
                    p.raw.append((d, t, min(nxt, gu), g))
                t = min(nxt, gu)
        return p

    def _build(self, day: int, start: datetime, end: datetime) -> R.DayAgg:
        agg = self._built.get((start, end))
        if agg is None:
            agg = self._built[start, end] = R.build(self.s, self.tz, start, end, day)
        return agg

    # -- sums
    def sums(self, plan: Plan, table: str, keys: tuple[str, ...], cols: tuple[str, ...],
             clocks: tuple[int, ...] | None = None) -> dict[tuple[Any, ...], list[Any]]:
        """Column sums per (group, *keys) over the plan; ``keys`` may name ``day``
        and ``weekday`` (of the local day, Monday 0)."""
        model, tkeys, tcols = R.TABLES[table]
        out: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * len(cols))
        by_day = "day" in keys or "weekday" in keys  # (the heat map's weekdays): day rows only
        whole, days = self._whole_months(plan.stored) if self.months and not by_day else ([], plan.stored)
        if whole:
            self._sum_stored(M.MONTHS[table], whole, keys, cols, clocks, out)
        if days:
            self._sum_stored(model, days, keys, cols, clocks, out)
        idx = [tcols.index(c) for c in cols]
        for day, start, end, g in plan.raw:
            for k, vals in self._build(day, start, end).t.get(table, {}).items():
                rec = dict(zip(tkeys, k, strict=True), day=day, weekday=(day - 1) % 7)
                if clocks is not None and rec["clock"] not in clocks:
                    continue
                acc = out[(g, *[rec[x] for x in keys])]
                for i, j in enumerate(idx):
                    acc[i] += vals[j] or 0
        return out

    @staticmethod
    def _whole_months(stored: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Split stored (day, group) pairs into (month first day, group) for
        months whose every day is stored in one group, and the other days."""
        by_month: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for d, g in stored:
            by_month[M.first_day(d)].append((d, g))
        whole, rest = [], []
        for first, pairs in by_month.items():
            if len(pairs) == M.last_day(first) - first + 1 and len({g for _, g in pairs}) == 1:
                whole.append((first, pairs[0][1]))
            else:
                rest += pairs
        return whole, rest

    def _sum_stored(self, model: Any, stored: list[tuple[int, int]], keys: tuple[str, ...],
                    cols: tuple[str, ...], clocks: tuple[int, ...] | None,
                    out: dict[tuple[Any, ...], list[Any]]) -> None:
        """Add the rows of ``model`` (a day table, or a month table keyed by
        first days) at the given (day, group) pairs into ``out``."""
        days = sorted(stored)
        lo, hi = days[0][0], days[-1][0]
        firsts: dict[int, int] = {}
        for d, g in days:
            firsts.setdefault(g, d)
        order = sorted(firsts.items(), key=lambda x: x[1])
        # one group: no group column (a constant in GROUP BY is a position to PostgreSQL)
        whens = [(model.day < d, g) for (g, _), (_, d) in itertools.pairwise(order)]
        gcols: list[Any] = [case(*whens, else_=order[-1][0])] if len(order) > 1 else []
        inside = {d for d, _ in days}
        # a month table holds first days only: the days between are not holes
        holes = [d for d in range(lo, hi + 1) if d not in inside and (model.__tablename__.startswith(
            "kpi_day_") or M.first_day(d) == d)]
        kcols = [(model.day - 1) % 7 if k == "weekday" else getattr(model, k) for k in keys]
        q = select(*gcols, *kcols, *[func.sum(getattr(model, c)) for c in cols])
        if len(holes) > len(inside):  # a few days at both ends of a year: seek them, not the year
            q = q.where(model.day.in_(sorted(inside)))
        else:
            q = q.where(model.day >= lo, model.day <= hi)
            if holes:
                q = q.where(model.day.not_in(holes))
        if clocks is not None:
            q = q.where(model.clock.in_(clocks))
        if gcols or kcols:
            q = q.group_by(*gcols, *kcols)
        ng = len(gcols)
        for row in self.s.execute(q):
            if not ng and not kcols and row[0] is None:
                continue  # no rows: SUM() of nothing
            g0 = int(row[0]) if ng else order[0][0]
            acc = out[(g0, *row[ng:ng + len(keys)])]
            for i, v in enumerate(row[ng + len(keys):]):
                acc[i] += v or 0

    def month_medians(self, plan: Plan, clock: int) -> dict[tuple[str, int], tuple[int, int, int]]:
        """(opd, group) -> (n, lo, hi) of the stored month medians, for the
        groups that are exactly one whole stored month (a year's trend)."""
        if not self.months:
            return {}
        raw_groups = {g for *_x, g in plan.raw}
        whole, _ = self._whole_months(plan.stored)
        sizes: dict[int, int] = defaultdict(int)
        for _d, g in plan.stored:
            sizes[g] += 1
        firsts = {first: g for first, g in whole
                  if g not in raw_groups and sizes[g] == M.last_day(first) - first + 1}
        if not firsts:
            return {}
        return {(opd, firsts[day]): (n, lo, hi) for day, opd, n, lo, hi in self.s.execute(
            select(KpiMonthMedian.day, KpiMonthMedian.opd, KpiMonthMedian.n, KpiMonthMedian.lo,
                   KpiMonthMedian.hi).where(KpiMonthMedian.clock == clock,
                                            KpiMonthMedian.day.in_(sorted(firsts))))}

    def histograms(self, plan: Plan, clocks: tuple[int, ...]) -> dict[tuple[int, int, str], dict[int, int]]:
        """(group, clock, opd) -> band -> count."""
        out: dict[tuple[int, int, str], dict[int, int]] = defaultdict(dict)
        for (g, clock, opd, b), (n,) in self.sums(plan, "hist", ("clock", "opd", "band"), ("n",),
                                                   clocks).items():
            if n:
                out[g, clock, opd][b] = n
        return out

    # -- exact values at ranks
    def at_ranks(self, clock: int, opd: str, since: datetime, until: datetime, bands: dict[int, int],
                 ranks: set[int]) -> dict[int, float] | None:
        """The values at 0-based ``ranks`` (ascending) of the clock's durations
        in ``[since, until)``; None if the band counts and the rows disagree."""
        return self.at_ranks_many([RankAsk(clock, opd, since, until, bands, ranks)])[0]

    def at_ranks_many(self, asks: Sequence[RankAsk]) -> list[dict[int, float] | None]:
        """:meth:`at_ranks` for many asks in one statement per ``CHUNK`` of band
        reads (a UNION ALL of indexed reads, one per ask and band): a year's
        trend asks ~100 medians, and a query each cost more in round trips and
        statement building than in reading (PostgreSQL: 1.7 ms a query). The
        SQL is text with typed parameters: building ~90 expression trees per
        board cost more than the reads themselves."""
        pieces: list[tuple[int, int, int, int, str]] = []  # (ask, band, first offset, count, sql)
        params: dict[str, Any] = {}
        wants: list[dict[int, list[tuple[int, int]]] | None] = []
        for i, a in enumerate(asks):
            want = _want(a.bands, a.ranks)
            wants.append(want)
            for b, rs in (want or {}).items():
                lo_off, hi_off = min(o for _, o in rs), max(o for _, o in rs)
                k = len(pieces)
                sql = _band_read(k, a, b, lo_off, hi_off - lo_off + 1, params)
                pieces.append((i, b, lo_off, hi_off - lo_off + 1, sql))
        got: dict[int, list[float]] = defaultdict(list)
        for k in range(0, len(pieces), CHUNK):
            part = pieces[k:k + CHUNK]
            names = [n for j in range(k, k + len(part)) for n in (f"s{j}", f"u{j}")]
            stmt = text(" UNION ALL ".join(q for *_x, q in part)).bindparams(
                *[bindparam(n, type_=UTCDateTime()) for n in names])
            for piece, v in self.s.execute(stmt, {n: v for n, v in params.items()
                                                  if int(n[1:]) in range(k, k + len(part))}):
                got[piece].append(v)
        out: list[dict[int, float] | None] = [{} if w is not None else None for w in wants]
        for k, (i, b, lo_off, count, _q) in enumerate(pieces):
            vals, res, want = sorted(got[k]), out[i], wants[i]
            if res is None or want is None:
                continue
            if len(vals) != count:
                out[i] = None
                continue
            for r, o in want[b]:
                res[r] = vals[o - lo_off]
        return out



@dataclass(frozen=True)
class RankAsk:
    """Which ranks of one clock's durations (of ``opd``) in ``[since, until)``:
    ``bands`` are the period's band counts that place them."""

    clock: int
    opd: str
    since: datetime
    until: datetime
    bands: dict[int, int]
    ranks: set[int]


_GONE = ", ".join(f"'{g}'" for g in sorted(GONE))  # constants: no quoting needed


def _band_read(k: int, a: RankAsk, band: int, offset: int, count: int, params: dict[str, Any]) -> str:
    """SQL of one band read, piece ``k``: the ``count`` durations from
    ``offset`` in ascending order, of ``a``'s clock (and OPD) in
    ``[a.since, a.until)`` within ``band`` (through the clock's rank index)."""
    if a.clock == R.ANSWER:
        col, table = "answer_s", "calls"
        where = ["direction = 'incoming'", f"received_at >= :s{k}", f"received_at < :u{k}"]
    elif a.clock == R.REROUTE:
        col, table = "reroute_us", "assignments"
        where = [f"opd = :o{k}", "declined_at IS NOT NULL", f"declined_at >= :s{k}", f"declined_at < :u{k}",
                 "rerouted_at IS NOT NULL"]
    else:
        col, table = ("ack_us" if a.clock == R.ACK else "resolve_us"), "assignments"
        where = [f"opd = :o{k}", f"dispatched_at >= :s{k}", f"dispatched_at < :u{k}",
                 f"status NOT IN ({_GONE})"]
    params.update({f"s{k}": a.since, f"u{k}": a.until})
    if a.clock != R.ANSWER:
        params[f"o{k}"] = a.opd
    where.append(f"{col} IS NOT NULL")
    lo, hi = R.band_range(a.clock, band)
    if lo is not None:
        where.append(f"{col} >= :l{k}")
        params[f"l{k}"] = lo
    if hi is not None:
        where.append(f"{col} < :h{k}")
        params[f"h{k}"] = hi
    return (f"SELECT {k} AS piece, v FROM (SELECT {col} AS v FROM {table} "  # noqa: S608 (names are constants)
            f"WHERE {' AND '.join(where)} ORDER BY {col} LIMIT {int(count)} OFFSET {int(offset)}) AS p{k}")


def _want(bands: dict[int, int], ranks: set[int]) -> dict[int, list[tuple[int, int]]] | None:
    """band -> [(rank, offset in the band)]; None when a rank is past the counts."""
    want: dict[int, list[tuple[int, int]]] = defaultdict(list)
    below = 0
    for b in sorted(bands):
        n = bands[b]
        for r in ranks:
            if below <= r < below + n:
                want[b].append((r, r - below))
        below += n
    return want if sum(len(v) for v in want.values()) == len(ranks) else None


def open_for(session: Session, tz_name: str) -> Rollups | None:
    """The rollups if they can answer for ``tz_name`` (else None: read raw)."""
    if session.info.get(RAW_KEY):
        return None
    shared = session.info.get(INFO_KEY)
    if shared is not None and str(shared.tz) == tz_name:
        return shared
    if not inspect(session.connection()).has_table("kpi_meta"):
        return None
    if R.built_for(session) != R.signature(tz_name) or not R.triggers_present(session):
        return None  # (a table rebuilt by a later SQLite migration loses its triggers)
    utc = set(session.scalars(select(KpiDirty.day).limit(MAX_DIRTY + 1).distinct()))
    if len(utc) > MAX_DIRTY:  # a bulk load not refreshed yet: the raw SQL is quicker than day builds
        return None
    return Rollups(session, tz_name, R.local_days(utc, ZoneInfo(tz_name)), M.built(session))


@contextlib.contextmanager
def shared(session: Session, tz_name: str) -> Iterator[Rollups | None]:
    """One reader (and its raw pieces) for several KPI computations in one
    read transaction (the dashboard's board)."""
    ro = open_for(session, tz_name)
    session.info[INFO_KEY] = ro
    try:
        yield ro
    finally:
        session.info.pop(INFO_KEY, None)

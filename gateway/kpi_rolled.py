"""The KPIs of :mod:`gateway.kpi`, :mod:`gateway.kpi_charts` and
:mod:`gateway.kpi_declines`, answered from the rollups
(:mod:`gateway.kpi_rollup_read`): the same definitions and the same
numbers, in a few thousand rollup rows and a few dozen indexed reads
instead of every row of the period. Each function returns None when a
median's band and the rows disagree (they never should); the caller then
reads raw.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from gateway import kpi_rollup as R
from gateway.kpi_rollup_read import RankAsk, Rollups
from gateway.lifecycle import GONE
from gateway.store.models import Assignment

MISSED = ("missed", "abandoned", "no_answer")  # = gateway.kpi.MISSED_REASONS
MONDAY = date(2001, 1, 1)


def _mid(v: list[float]) -> float:
    return v[0] if len(v) == 1 else (v[0] + v[1]) / 2


@dataclass(frozen=True)
class Spread:
    """A median and p90 to find: ``n`` durations of ``clock`` for ``opd`` in
    ``[since, until)`` spread over ``bands``; values divided by ``scale``."""

    clock: int
    opd: str
    since: datetime
    until: datetime
    bands: dict[int, int]
    n: int
    scale: float
    p90: bool = True


def medians_p90(ro: Rollups, asks: list[Spread]) -> list[tuple[float | None, float | None]] | None:
    """(median, p90) per ask, read in one batch (None: a band and the rows disagree)."""
    from gateway.kpi import median_ranks, percentile_rank

    ranks = [{*median_ranks(a.n)} | ({percentile_rank(a.n, 90)} if a.p90 else set()) if a.n else set()
             for a in asks]
    found = ro.at_ranks_many([RankAsk(a.clock, a.opd, a.since, a.until, a.bands, r)
                              for a, r in zip(asks, ranks, strict=True) if a.n])
    out: list[tuple[float | None, float | None]] = []
    it = iter(found)
    for a in asks:
        if not a.n:
            out.append((None, None))
            continue
        at = next(it)
        if at is None:
            return None
        out.append((_mid([at[i] / a.scale for i in median_ranks(a.n)]),
                    at[percentile_rank(a.n, 90)] / a.scale if a.p90 else None))
    return out


def incidents(ro: Rollups, since: datetime, until: datetime) -> tuple[Counter[str], int]:
    """Incidents by category, the open backlog."""
    from gateway.kpi import OPEN_STATES

    plan = ro.plan(since, until)
    cats: Counter[str] = Counter()
    backlog = 0
    for (_, cat, status), (n,) in ro.sums(plan, "inc", ("category", "status"), ("n",)).items():
        cats[cat] += n
        backlog += n if status in OPEN_STATES else 0
    return +cats, backlog


def hours(ro: Rollups, since: datetime, until: datetime) -> Counter[datetime]:
    """Incidents by local weekday and hour, keyed by a local hour of that
    weekday and hour (what the heat map and hours of day read; not a date)."""
    plan = ro.plan(since, until)
    hours: Counter[datetime] = Counter()
    for (_, wd, hour), (n,) in ro.sums(plan, "hour", ("weekday", "hour"), ("n",)).items():
        if n:
            hours[datetime.combine(MONDAY + timedelta(days=int(wd)), time(int(hour)), ro.tz)] += n
    return hours


def opds(ro: Rollups, cfg: Any, since: datetime, until: datetime, now: datetime) -> list[Any] | None:
    from gateway.kpi import OpdKpi, _compliance, _sla

    plan = ro.plan(since, until, now=now)
    cols = ("n", "open", "esc", "ack_done", "ack_dec", "ack_ok", "res_done", "res_dec", "res_ok")
    agg: dict[str, list[int]] = defaultdict(lambda: [0] * 11)
    for (_, opd), vals in ro.sums(plan, "asg", ("opd",), (*cols, "ack_olim", "res_olim")).items():
        acc = agg[opd]
        for i, v in enumerate(vals):
            acc[i] += v
    # olim of a stored day are all overdue at ``now`` (plan); raw pieces: overdue as kpi._sla counts it
    stored_late = {o: (v[9], v[10]) for o, v in agg.items()}
    late: dict[str, tuple[int, int]] = {o: (0, 0) for o in agg}
    if plan.raw:
        from sqlalchemy import or_

        where = [or_(*[(Assignment.dispatched_at >= s) & (Assignment.dispatched_at < e)
                       for _, s, e, _ in plan.raw]), Assignment.status.not_in(sorted(GONE))]
        ack = _sla(ro.s, Assignment.acknowledged_at, Assignment.ack_us, Assignment.sla_ack_min, where, now)
        res = _sla(ro.s, Assignment.resolved_at, Assignment.resolve_us, Assignment.sla_resolve_min, where,
                   now)
        for opd, a, r in ro.s.execute(select(Assignment.opd, ack["overdue"], res["overdue"]).where(*where)
                                      .group_by(Assignment.opd)):
            late[opd] = (int(a), int(r))
    # the raw pieces' olim were summed with the stored ones: take them out again
    raw_olim: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day, s, e, _ in plan.raw:
        for (opd,), v in ro._build(day, s, e).t.get("asg", {}).items():
            raw_olim[opd][0] += v[9]
            raw_olim[opd][1] += v[10]
    overdue = {o: (stored_late[o][0] - raw_olim[o][0] + late.get(o, (0, 0))[0],
                   stored_late[o][1] - raw_olim[o][1] + late.get(o, (0, 0))[1]) for o in agg}
    present = {o for o, v in agg.items() if v[0]}
    known = [o.id for o in cfg.opds]
    unknown = sorted(present - set(known))
    if unknown:  # ordered by their first part, as kpi._opds does
        first = dict(ro.s.execute(select(Assignment.opd, func.min(Assignment.pk)).where(
            Assignment.opd.in_(unknown), Assignment.dispatched_at >= since, Assignment.dispatched_at < until,
            Assignment.status.not_in(sorted(GONE))).group_by(Assignment.opd)).all())
        unknown.sort(key=lambda o: first[o])
    hist = ro.histograms(plan, (R.ACK, R.RESOLVE))
    order = known + unknown
    per = {opd: agg[opd] if opd in present else [0] * 11 for opd in order}
    spreads = medians_p90(ro, [Spread(clock, opd, since, until, _bands(hist, clock, opd), per[opd][col], 1e6)
                               for opd in order for clock, col in ((R.ACK, 3), (R.RESOLVE, 6))])
    if spreads is None:
        return None
    out = []
    for k, opd in enumerate(order):
        count, open_, esc, n_ack, ack_dec, ack_ok, n_res, res_dec, res_ok = per[opd][:9]
        ack_late, res_late = overdue.get(opd, (0, 0)) if opd in present else (0, 0)
        a, r = spreads[2 * k], spreads[2 * k + 1]
        conf = cfg.opd(opd)
        out.append(OpdKpi(
            opd=opd, name=conf.name if conf else opd, count=count, acknowledged=n_ack, resolved=n_res,
            open=open_, ack_median_s=a[0], ack_p90_s=a[1], resolve_median_s=r[0], resolve_p90_s=r[1],
            ack_sla_compliance=_compliance(ack_ok, ack_dec, ack_late),
            resolve_sla_compliance=_compliance(res_ok, res_dec, res_late), escalations=esc))
    return out


def _bands(hist: dict[tuple[int, int, str], dict[int, int]], clock: int, opd: str) -> dict[int, int]:
    merged: Counter[int] = Counter()
    for (_, c, o), bands in hist.items():
        if c == clock and o == opd:
            merged.update(bands)
    return dict(merged)


def calls(ro: Rollups, since: datetime, until: datetime) -> Any | None:
    from gateway.kpi import ANSWER_TARGETS, CallKpi

    plan = ro.plan(since, until)
    n = answered = missed = w15 = w20 = 0
    for (_, _ctype, reason), vals in ro.sums(plan, "call", ("call_type", "end_reason"),
                                             ("n", "answered", "w15", "w20")).items():
        n += vals[0]
        answered += vals[1]
        w15 += vals[2]
        w20 += vals[3]
        missed += vals[0] if reason in MISSED else 0
    bands = _bands(ro.histograms(plan, (R.ANSWER,)), R.ANSWER, "")
    found = medians_p90(ro, [Spread(R.ANSWER, "", since, until, bands, answered, 1.0)])
    if found is None:
        return None
    mp = found[0]
    s15 = w15 / answered if answered else None
    s20 = w20 / answered if answered else None
    return CallKpi(calls=n, answered=answered, missed=missed, answer_median_s=mp[0], answer_p90_s=mp[1],
                   within_15s=s15, within_20s=s20,
                   meets_15s_target=None if s15 is None else s15 >= ANSWER_TARGETS[0][1],
                   meets_20s_target=None if s20 is None else s20 >= ANSWER_TARGETS[1][1])


def charts(ro: Rollups, since: datetime, until: datetime, starts: list[datetime], opds: list[str]
           ) -> dict[str, Any] | None:
    """The chart series of kpi_charts.compute but the heat map: trend, call
    types, answer bands, end reasons, re-routes."""
    from gateway.kpi import median_ranks

    nb = len(starts)
    plan = ro.plan(since, until, starts)
    count: dict[str, list[int]] = {}
    acked: dict[tuple[str, int], int] = {}
    rerouted: Counter[str] = Counter()
    for (g, opd), (n, n_ack, wd) in ro.sums(plan, "asg", ("opd",), ("n", "ack_done", "withdrawn")).items():
        if n:
            count.setdefault(opd, [0] * nb)[g] += n
        if n_ack:
            acked[opd, g] = n_ack
        rerouted[opd] += wd
    hist = ro.histograms(plan, (R.ACK,))
    bounds = [*starts[1:], until]
    every = opds + sorted(set(count) - set(opds))
    kept = ro.month_medians(plan, R.ACK)  # whole months of a year's trend: found when they were summed
    medians: dict[tuple[str, int], float | None] = {}
    for (opd, k), (n, lo, hi) in kept.items():
        if n == acked.get((opd, k), 0):
            medians[opd, k] = _mid([lo / 1e6] if len(median_ranks(n)) == 1 else [lo / 1e6, hi / 1e6])
    live = [(opd, k) for opd in every for k in range(nb) if (opd, k) not in medians]
    meds = medians_p90(ro, [Spread(R.ACK, opd, starts[k], bounds[k], hist.get((k, R.ACK, opd), {}),
                                   acked.get((opd, k), 0), 1e6, p90=False) for opd, k in live])
    if meds is None:
        return None
    medians.update({key: m for key, (m, _) in zip(live, meds, strict=True)})
    trend = [(opd, list(count.get(opd, [0] * nb)), [medians[opd, k] for k in range(nb)]) for opd in every]
    types: dict[str, list[int]] = defaultdict(lambda: [0] * nb)
    bands = [0] * 7
    reasons: Counter[str | None] = Counter()
    for (g, ctype, reason), vals in ro.sums(plan, "call", ("call_type", "end_reason"),
                                            ("n", "b0", "b1", "b2", "b3", "b4", "b5", "b6")).items():
        if vals[0]:
            types[ctype or "untyped"][g] += vals[0]
            reasons[reason or None] += vals[0]
        for i in range(7):
            bands[i] += vals[1 + i]
    return {"trend": trend, "call_types": dict(sorted(types.items())), "bands": bands,
            "reasons": {r: n for r, n in reasons.items() if n},
            "rerouted": {o: n for o, n in rerouted.items() if n}}


def declines(ro: Rollups, cfg: Any, since: datetime, until: datetime) -> list[Any] | None:
    from gateway.kpi_declines import OpdDeclines

    plan = ro.plan(since, until)
    by_reason: dict[str, Counter[str | None]] = defaultdict(Counter)
    wrong: Counter[str] = Counter()
    rerouted: Counter[str] = Counter()
    for (_, opd, reason), (n, w, back) in ro.sums(plan, "decl", ("opd", "reason"),
                                                  ("n", "wrong", "rerouted")).items():
        if n:
            by_reason[opd][reason or None] += n
        wrong[opd] += w
        rerouted[opd] += back
    hist = ro.histograms(plan, (R.REROUTE,))
    spreads = medians_p90(ro, [Spread(R.REROUTE, o.id, since, until, _bands(hist, R.REROUTE, o.id),
                                      rerouted[o.id], 1e6) for o in cfg.opds])
    if spreads is None:
        return None
    out = []
    for o, mp in zip(cfg.opds, spreads, strict=True):
        n = sum(by_reason[o.id].values())
        out.append(OpdDeclines(opd=o.id, name=o.name, declines=n, by_reason=dict(by_reason[o.id]),
                               wrong=wrong[o.id], reroute_median_s=mp[0], reroute_p90_s=mp[1],
                               waiting=n - rerouted[o.id]))
    return out

"""KPI rollups: per local day sums of everything the dashboard shows,
built from the raw rows by the same definitions :mod:`gateway.kpi` uses.

A day's rollup is built here, in Python over the day's rows (a few
thousand), and stored in the ``kpi_day_*`` tables
(gateway/store/models_kpi.py). Database triggers mark the UTC days of
every changed case, part or call dirty in the writer's transaction
(gateway/store/kpi_triggers.py); :func:`refresh` rebuilds those days and
clears their marks in one transaction, :func:`rebuild` all days (a new
time zone, a new band layout), :func:`verify` compares stored days with
fresh builds. Readers (:mod:`gateway.kpi_rollup_read`) use a stored day
only when it is not dirty and was built for the site's time zone; every
other piece of a period (its partial first and last day, dirty days) is
built on the fly with :func:`build`, so the answers are the raw answers.

Durations are also counted per band (log-spaced edges, :data:`EDGES`): a
median or p90 over a year sums a few hundred band counts to find the band
holding the wanted rank, then reads that one band's rows through an index
for the exact value.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, distinct, func, insert, select, text
from sqlalchemy.orm import Session

from gateway import kpi_rollup_months as months
from gateway.lifecycle import GONE
from gateway.store import kpi_triggers
from gateway.store.models import Assignment, Call, Incident
from gateway.store.models_kpi import (
    KpiDayAssignment,
    KpiDayCall,
    KpiDayDecline,
    KpiDayHistogram,
    KpiDayHour,
    KpiDayIncident,
    KpiDirty,
    KpiMeta,
)

log = logging.getLogger("gateway.kpi_rollup")
ACK, RESOLVE, ANSWER, REROUTE = 0, 1, 2, 3
ANSWER_BANDS = (5.0, 10.0, 15.0, 20.0, 30.0, 60.0)  # = kpi_charts.ANSWER_BANDS (checked by a test)


def _edges(per_octave: int, lo: int, hi: int, scale: float, integer: bool) -> tuple[float, ...]:
    vals = (2 ** (i / per_octave) * scale for i in range(lo * per_octave, hi * per_octave + 1))
    return tuple(math.ceil(v) if integer else v for v in vals)


#: band edges per clock: microseconds (half octaves, 1 us .. 2 years) and answer
#: seconds (eighth octaves, 1 ms .. 68 min; calls are not split by OPD, so finer)
_US = _edges(2, 0, 46, 1.0, True)
EDGES = {ACK: _US, RESOLVE: _US, REROUTE: _US, ANSWER: _edges(8, -10, 12, 1.0, False)}
BANDS_VERSION = "v1"


def band(clock: int, v: float) -> int:
    """The band of ``v``: band b holds EDGES[b-1] <= v < EDGES[b]."""
    return bisect.bisect_right(EDGES[clock], v)


def band_range(clock: int, b: int) -> tuple[float | None, float | None]:
    e = EDGES[clock]
    return (e[b - 1] if b > 0 else None, e[b] if b < len(e) else None)


def signature(tz_name: str) -> str:
    return f"{tz_name}|{BANDS_VERSION}"


@functools.lru_cache(maxsize=8192)
def midnight(day: int, tz: ZoneInfo) -> datetime:
    """UTC instant of local midnight starting the day of ordinal ``day`` (as kpi_period)."""
    return datetime.combine(date.fromordinal(day), time(0), tz).astimezone(UTC)


def day_of(t: datetime, tz: ZoneInfo) -> int:
    return t.astimezone(tz).date().toordinal()


def local_days(utc_days: set[int], tz: ZoneInfo) -> set[int]:
    """Local days overlapping the given UTC days (days since 1970)."""
    out: set[int] = set()
    for u in utc_days:
        start = datetime.fromtimestamp(u * 86400, UTC)
        first, last = day_of(start, tz), day_of(start + timedelta(days=1, microseconds=-1), tz)
        out.update(range(first, last + 1))
    return out


#: name -> (model, key columns, summed columns)
ASG_COLS = ("n", "open", "esc", "ack_done", "ack_dec", "ack_ok", "res_done", "res_dec", "res_ok",
            "ack_olim", "res_olim", "ack_olim_max", "res_olim_max", "withdrawn")
CALL_COLS = ("n", "answered", "w15", "w20", "b0", "b1", "b2", "b3", "b4", "b5", "b6")
TABLES: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    "asg": (KpiDayAssignment, ("opd",), ASG_COLS),
    "hist": (KpiDayHistogram, ("clock", "opd", "band"), ("n",)),
    "inc": (KpiDayIncident, ("category", "status"), ("n",)),
    "hour": (KpiDayHour, ("hour",), ("n",)),
    "call": (KpiDayCall, ("call_type", "end_reason"), CALL_COLS),
    "decl": (KpiDayDecline, ("opd", "reason"), ("n", "wrong", "rerouted")),
}
_MAXED = {ASG_COLS.index("ack_olim_max"), ASG_COLS.index("res_olim_max")}


@dataclass
class DayAgg:
    """One local day's (or part of a day's) rollup rows: table -> key -> values."""

    day: int
    t: dict[str, dict[tuple[Any, ...], list[Any]]] = field(default_factory=dict)

    def row(self, table: str, key: tuple[Any, ...]) -> list[Any]:
        rows = self.t.setdefault(table, {})
        r = rows.get(key)
        if r is None:
            r = rows[key] = [None if i in _MAXED and table == "asg" else 0
                             for i in range(len(TABLES[table][2]))]
        return r

    def empty(self) -> bool:
        return not any(self.t.values())


def _has_limit(lim: float | None) -> bool:
    return lim is not None and lim != 0


def _max(a: float | None, b: float) -> float:
    return b if a is None else max(a, b)


def build(session: Session, tz: ZoneInfo, start: datetime, end: datetime, day: int) -> DayAgg:
    """The rollup of the rows whose key time is in ``[start, end)`` (inside local ``day``)."""
    from gateway.kpi import _local_hours

    agg = DayAgg(day)
    where = [Incident.received_at >= start, Incident.received_at < end]
    for cat, status, n in session.execute(select(Incident.category, Incident.status, func.count())
                                          .where(*where).group_by(Incident.category, Incident.status)):
        agg.row("inc", (cat, status))[0] += n
    for local, n in _local_hours(session, Incident.received_at, where, tz, start, end).items():
        agg.row("hour", (local.hour,))[0] += n

    def flag(cond: Any) -> Any:
        return case((cond, 1), else_=0)

    esc = flag(Assignment.ack_escalated_at.is_not(None) | Assignment.resolve_escalated_at.is_not(None))
    for (opd, status, acked, resolved, ack_us, res_us, lim_a, lim_r, escalated) in session.execute(
            select(Assignment.opd, Assignment.status, flag(Assignment.acknowledged_at.is_not(None)),
                   flag(Assignment.resolved_at.is_not(None)), Assignment.ack_us, Assignment.resolve_us,
                   Assignment.sla_ack_min, Assignment.sla_resolve_min, esc)
            .where(Assignment.dispatched_at >= start, Assignment.dispatched_at < end)):
        r = agg.row("asg", (opd,))
        if status in GONE:
            r[13] += status == "withdrawn"
            continue
        r[0] += 1
        r[1] += not resolved
        r[2] += escalated
        for done, us, lim, base, clock in ((acked, ack_us, lim_a, 3, ACK),
                                           (resolved, res_us, lim_r, 6, RESOLVE)):
            if done:
                r[base] += 1
                if _has_limit(lim):
                    r[base + 1] += 1
                    # as gateway.kpi._sla: CAST(us AS float) / 1e6 <= limit * 60
                    r[base + 2] += float(us) / 1e6 <= lim * 60
                if us is not None:
                    agg.row("hist", (clock, opd, band(clock, us)))[0] += 1
            elif _has_limit(lim):
                k = 9 if clock == ACK else 10
                r[k] += 1
                r[k + 2] = _max(r[k + 2], lim)
    for ctype, reason, ans in session.execute(
            select(Call.call_type, Call.end_reason, Call.answer_s)
            .where(Call.received_at >= start, Call.received_at < end, Call.direction == "incoming")):
        r = agg.row("call", (ctype or "", reason or ""))
        r[0] += 1
        if ans is not None:
            r[1] += 1
            r[2] += ans <= 15.0
            r[3] += ans <= 20.0
            i = 0 if ans <= ANSWER_BANDS[0] else next(
                (j + 1 for j, (lo, hi) in enumerate(itertools.pairwise(ANSWER_BANDS)) if lo < ans <= hi),
                len(ANSWER_BANDS))
            r[4 + i] += 1
            agg.row("hist", (ANSWER, "", band(ANSWER, ans)))[0] += 1
    for opd, reason, wrong, back, us in session.execute(
            select(Assignment.opd, Assignment.decline_reason, flag(Assignment.decline_wrong.is_(True)),
                   flag(Assignment.rerouted_at.is_not(None)), Assignment.reroute_us)
            .where(Assignment.declined_at.is_not(None), Assignment.declined_at >= start,
                   Assignment.declined_at < end)):
        r = agg.row("decl", (opd, reason or ""))
        r[0] += 1
        r[1] += wrong
        r[2] += back
        if back:
            agg.row("hist", (REROUTE, opd, band(REROUTE, us)))[0] += 1
    return agg


def _models() -> list[Any]:
    return [m for m, _, _ in TABLES.values()]


def _write_day(session: Session, tz: ZoneInfo, day: int, *, clear: bool = True) -> bool:
    if clear:
        for m in _models():
            session.execute(delete(m).where(m.day == day))
    agg = build(session, tz, midnight(day, tz), midnight(day + 1, tz), day)
    for name, rows in agg.t.items():
        model, keys, cols = TABLES[name]
        if rows:
            session.execute(insert(model), [{"day": day, **dict(zip(keys, k, strict=True)),
                                             **dict(zip(cols, v, strict=True))} for k, v in rows.items()])
    return not agg.empty()


def triggers_present(session: Session) -> bool:
    d = session.get_bind().dialect.name
    return session.scalar(text(kpi_triggers.present_sql(d))) == kpi_triggers.expected_count(d)


def built_for(session: Session) -> str | None:
    return session.scalar(select(KpiMeta.value).where(KpiMeta.key == "built_for"))


def _lock(session: Session, wait: bool = True) -> bool:
    """One refresher at a time (SQLite: the write lock does it); False: busy."""
    if session.get_bind().dialect.name == "postgresql":
        if not wait:
            return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(1512)")))
        session.execute(text("SELECT pg_advisory_xact_lock(1512)"))
    return True


def data_days(session: Session, tz: ZoneInfo) -> tuple[int, int] | None:
    """The first and last local day that hold a row any rollup counts, or None."""
    ends = []
    for col in (Incident.received_at, Assignment.dispatched_at, Assignment.declined_at, Call.received_at):
        lo, hi = session.execute(select(func.min(col), func.max(col))).one()
        ends += [t for t in (lo, hi) if t is not None]
    if not ends:
        return None
    return day_of(min(ends), tz), day_of(max(ends), tz)


Progress = Callable[[int, int], None]


def rebuild(session: Session, tz_name: str, progress: Progress | None = None) -> int:
    """Rebuild every day's rollup for ``tz_name``; returns the days with rows.
    Needs the triggers (migration 0005): without them a rollup would go stale."""
    if not triggers_present(session):
        raise RuntimeError("KPI rollup triggers missing: run `siaga gateway migrate` first")
    _lock(session)
    tz = ZoneInfo(tz_name)
    session.execute(delete(KpiMeta).where(KpiMeta.key == "built_for"))
    session.execute(delete(KpiDirty))  # before reading: a change committed after it stays marked
    for m in _models():
        session.execute(delete(m))
    span = data_days(session, tz)
    written = 0
    if span is not None:
        first, last = span
        for i, day in enumerate(range(first, last + 1)):
            written += _write_day(session, tz, day, clear=False)
            if progress is not None and (i % 30 == 29 or day == last):
                progress(i + 1, last - first + 1)
    months.rebuild(session, tz)
    session.execute(insert(KpiMeta), [{"key": "built_for", "value": signature(tz_name)}])
    return written


MIGRATION_ZONE = "Asia/Jakarta"  # SiteConfig's default: a migration has no site file


def build_after_migration(engine: Any) -> int:
    """Build the rollups once, after the schema reached its head, when they
    were never built (a new database, or one migrated past 0005_kpi_rollups),
    and their month sums when those were never built (past 0007_kpi_months):
    the build reads the newest columns, which a migration's own step could
    not. Returns the days written (0: built before)."""
    with Session(engine) as session, session.begin():
        if not triggers_present(session):
            return 0
        if built_for(session) is None:
            return rebuild(session, MIGRATION_ZONE)
        if not months.built(session):  # migrated past 0007_kpi_months: sum the stored days
            _lock(session)
            months.rebuild(session, ZoneInfo(str(built_for(session)).split("|")[0]))
        return 0


def refresh(session: Session, tz_name: str, *, max_days: int | None = None, wait: bool = True) -> int:
    """Rebuild the dirty days, the latest ``max_days`` UTC days of them at most
    (the rest stay dirty: read raw, refreshed next time); returns how many
    local days were rebuilt, or -1 when the rollups were built for another
    zone or band layout (then nothing is done: ``rebuild`` them, a long
    transaction not to be run behind the intake's back). Safe beside
    writers: a day's marks are deleted before its rows are read, so a
    change committed later keeps its own mark. ``wait=False``: return 0 if
    another refresher holds PostgreSQL's advisory lock."""
    if not triggers_present(session):
        return 0
    if built_for(session) != signature(tz_name):
        return -1
    if not _lock(session, wait):
        return 0
    tz = ZoneInfo(tz_name)
    pending = sorted(set(session.scalars(select(KpiDirty.day).distinct())), reverse=True)
    if not pending:
        return 0
    chosen = pending if max_days is None else pending[:max_days]
    utc_days = set(session.scalars(delete(KpiDirty).where(KpiDirty.day.in_(chosen))
                                   .returning(KpiDirty.day)))
    days = sorted(local_days(utc_days, tz))
    for day in days:
        _write_day(session, tz, day)
    months.rewrite(session, {months.first_day(d) for d in days}, tz)
    return len(days)


REFRESH_DAYS = 14  # dirty days rebuilt per dashboard computation (a bulk load is caught up over polls)


def dirty_days(session: Session) -> int:
    """How many UTC days wait for a refresh."""
    return int(session.scalar(select(func.count(distinct(KpiDirty.day)))) or 0)


def refresh_db(db: Any, tz_name: str, max_days: int = REFRESH_DAYS) -> None:
    """Refresh after a dashboard computation (its board is made already, dirty
    days read raw), in its own short write transaction (usually just today),
    for the next one. Never waits for a writer: with SQLite's write lock
    (``Database._lock``) or another refresher busy it does nothing (the next
    computation tries again). A failure only leaves days raw."""
    lock = getattr(db, "_lock", None)
    if lock is not None and not lock.acquire(timeout=0):
        return
    try:
        with db.new_session() as s, s.begin():
            if refresh(s, tz_name, max_days=max_days, wait=False) < 0:
                log.warning("Rollup KPI dibuat untuk zona lain / KPI rollups built for another zone or "
                            "layout: run `siaga gateway rollups --rebuild` (until then: raw rows, slower)")
    except Exception:  # the dashboard still answers, from the raw rows
        log.exception("KPI rollup refresh failed")
    finally:
        if lock is not None:
            lock.release()


def stored(session: Session, day: int) -> DayAgg:
    agg = DayAgg(day)
    for name, (model, keys, cols) in TABLES.items():
        for row in session.execute(select(*[getattr(model, c) for c in (*keys, *cols)]).where(
                model.day == day)):
            agg.t.setdefault(name, {})[tuple(row[:len(keys)])] = list(row[len(keys):])
    return agg


def verify(session: Session, tz_name: str, progress: Progress | None = None) -> list[int]:
    """Days whose stored rollup differs from a fresh build (dirty days are
    skipped: readers do not use them). Raises if built for another zone."""
    if built_for(session) != signature(tz_name):
        raise RuntimeError(f"KPI rollups built for {built_for(session)!r}, not {signature(tz_name)!r}")
    tz = ZoneInfo(tz_name)
    dirty = local_days(set(session.scalars(select(KpiDirty.day).distinct())), tz)
    span = data_days(session, tz)
    bad: list[int] = []
    if span is None:
        return bad
    first, last = span
    for i, day in enumerate(range(first, last + 1)):
        if day not in dirty:
            a, b = build(session, tz, midnight(day, tz), midnight(day + 1, tz), day), stored(session, day)
            if {k: v for k, v in a.t.items() if v} != {k: v for k, v in b.t.items() if v}:
                bad.append(day)
        if progress is not None and (i % 30 == 29 or day == last):
            progress(i + 1, last - first + 1)
    return bad


def counts(session: Session) -> dict[str, int]:
    """Rows per rollup table and dirty marks (for the CLI)."""
    out: Counter[str] = Counter()
    for name, (model, _, _) in TABLES.items():
        out[name] = session.scalar(select(func.count()).select_from(model)) or 0
    for name, model in (*months.MONTHS.items(), ("medians", months.KpiMonthMedian)):
        out[f"month {name}"] = session.scalar(select(func.count()).select_from(model)) or 0
    out["dirty"] = session.scalar(select(func.count()).select_from(KpiDirty)) or 0
    return dict(out)


"""Dashboard at a year of a province: how long the mayor's dashboard takes
to compute over 30 days and over 12 months of history. Prints numbers;
asserts nothing.

    .venv/bin/python bench/dashboard_year.py [--cases 1000000] [--engines sqlite postgresql]
                                             [--repeat 3] [--database-url postgresql://...]

For each engine a fresh database is seeded in bulk, straight through the
store (not through MQTT): ``--cases`` cases spread over the last 365
days, ~60 % given to an OPD (some declined, some re-routed), one incoming
call per two cases (some missed, some abandoned, typed). Then the whole
dashboard (``gateway.kpi_board.compute``: the KPI table, the previous
period, declines and every chart series) is computed ``--repeat`` times
per period, uncached, in a read-only session, and the times printed, with
the seconds per part of the 12-month one. Target (issue 15): <= 500 ms for
12 months on both databases.

PostgreSQL: a private cluster on a Unix socket (testkit.postgres), or the
server at ``--database-url``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from gateway import kpi, kpi_board, kpi_charts, kpi_declines, kpi_rollup  # noqa: E402
from gateway.config import parse_config  # noqa: E402
from gateway.kpi_period import PeriodKind, resolve  # noqa: E402
from gateway.kpi_rollup_read import RAW_KEY  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from gateway.store.models import Assignment, Call, Incident  # noqa: E402

OPDS = ("damkar", "dinkes", "bpbd", "polres", "dinas_pu", "satpol", "dp3a", "bpbd_prov")
CATS = ("fire", "medical", "flood", "crime", "other", "other", "fallen_tree", "prank", "test")
CALL_TYPES = (None, "emergency", "emergency", "emergency", "information", "prank", "ghost", "misdial")
REASONS = ("not_ours", "no_capacity", "duplicate", "other")
CHUNK = 20_000


def site(db_url: str):
    opds = "\n".join(f"  - {{id: {o}, name: {o.upper()}, channels: {{mqtt_terminal: false}}}}" for o in OPDS)
    return parse_config(f"""
mode: demo
site: {{name: Provinsi Beban, case_prefix: PRV}}
broker: {{host: 127.0.0.1, port: 1883}}
gateway: {{database_url: "{db_url}", instance_id: bench}}
opds:
{opds}
""", filename="bench-site.yaml")


def seed(db: Database, n: int, now: datetime, rnd: random.Random) -> float:
    """``n`` cases over the last 365 days, in bulk; returns seconds taken."""
    t0 = time.perf_counter()
    year = 365 * 86400
    for start in range(0, n, CHUNK):
        incs, asgs, calls = [], [], []
        for pk in range(start + 1, min(n, start + CHUNK) + 1):
            at = now - timedelta(seconds=rnd.uniform(60, year))
            cat = rnd.choice(CATS)
            incs.append({"pk": pk, "id": f"{pk:026d}", "case_no": f"PRV-{pk:09d}", "category": cat,
                         "source": "field_button", "priority": 2, "status": "closed",
                         "received_at": at, "updated_at": at})
            if cat not in ("prank", "test") and rnd.random() < 0.7:
                d = at + timedelta(seconds=rnd.uniform(5, 120))
                ack = d + timedelta(seconds=rnd.expovariate(1 / 300)) if rnd.random() < 0.92 else None
                done = ack is not None and rnd.random() < 0.85
                res = ack + timedelta(seconds=rnd.expovariate(1 / 4000)) if done else None
                a = {"incident_pk": pk, "opd": rnd.choice(OPDS), "dispatched_at": d, "acknowledged_at": ack,
                     "resolved_at": res, "sla_ack_min": 5.0, "sla_resolve_min": 120.0,
                     "status": "resolved" if res else "acknowledged" if ack else "dispatched"}
                roll = rnd.random()
                if roll < 0.04:
                    when = d + timedelta(seconds=rnd.uniform(30, 600))
                    a.update(status="declined", declined_at=when, decline_reason=rnd.choice(REASONS),
                             acknowledged_at=None, resolved_at=None,
                             rerouted_at=when + timedelta(seconds=rnd.uniform(20, 900)))
                elif roll < 0.06:
                    a["status"] = "withdrawn"
                asgs.append(a)
            if pk % 2:
                end = rnd.choice(("remote_hangup",) * 8 + ("missed", "abandoned"))
                calls.append({"id": f"C{pk:025d}", "device_id": "panel-01", "seq": pk,
                              "direction": "incoming",
                              "answer_s": rnd.expovariate(1 / 9) if end == "remote_hangup" else None,
                              "duration_s": 60.0, "end_reason": end, "call_type": rnd.choice(CALL_TYPES),
                              "received_at": at})
        with db.session() as s:
            s.execute(insert(Incident), incs)
            s.execute(insert(Assignment), [{"declined_at": None, "decline_reason": None, "rerouted_at": None,
                                            **a} for a in asgs])
            s.execute(insert(Call), calls)
        done = min(n, start + CHUNK)
        if done % 200_000 == 0 or done == n:
            print(f"    seeded {done:,} cases ({time.perf_counter() - t0:.0f} s)", flush=True)
    analyze(db)
    return time.perf_counter() - t0


def analyze(db: Database) -> None:
    """Statistics for the planner; on PostgreSQL also VACUUM, as autovacuum does
    after a bulk load (PostgreSQL 13+ vacuums insert-only tables too): until the
    visibility map is set, every index-only read of the medians visits the table."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as c:
            c.execute(text("ANALYZE"))


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall seconds, median CPU seconds of this process (SQLite runs
    in it; PostgreSQL's work is in its server), and the last result."""
    times, cpus, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpus), out


def parts(db: Database, cfg, period) -> dict[str, float]:
    """Seconds per part of one board computation (one run each)."""
    now = datetime.now(UTC)
    out = {}
    with db.read_session() as s:
        for name, fn in (
                ("KPI table", lambda: kpi.compute(s, cfg, period.since, period.until)),
                ("previous period", lambda: kpi._opds(s, cfg, period.prev_since, period.prev_until, now)),
                ("declines", lambda: kpi_declines.declines(s, cfg, period.since, period.until)),
                ("charts", lambda: kpi_charts.compute(s, period.since, period.until, cfg.site.timezone,
                                                      list(OPDS)))):
            t, c = time.perf_counter(), time.process_time()
            fn()
            out[name] = (time.perf_counter() - t, time.process_time() - c)
    return out


def run(engine: str, url: str, args: argparse.Namespace) -> None:
    db = Database(url)
    db.migrate()
    cfg = site(url)
    now = datetime.now(UTC)
    print(f"\n== {engine}: {args.cases:,} cases over 365 days")
    with db.read_session() as s:
        there = s.scalar(text("SELECT count(*) FROM incidents"))
    if there:  # --keep: a database seeded by an earlier run (its cases end when it was seeded)
        print(f"  kept: {there:,} cases already there, not seeded again")
    else:
        took = seed(db, args.cases, now, random.Random(15))
        print(f"  seed: {took:.0f} s ({args.cases / took:,.0f} cases/s)")
    with db.read_session() as s:
        counts = [s.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("incidents", "assignments", "calls")]
    print(f"  rows: incidents {counts[0]:,}, assignments {counts[1]:,}, calls {counts[2]:,}")
    # the triggers marked every seeded day dirty; the gateway refreshes them over its polls
    t = time.perf_counter()
    with db.session() as s:
        days = kpi_rollup.refresh(s, cfg.site.timezone)
    analyze(db)
    with db.read_session() as s:
        rows = kpi_rollup.counts(s)
    print(f"  rollups: {days} days refreshed in {time.perf_counter() - t:.1f} s; rows "
          + ", ".join(f"{k} {v:,}" for k, v in rows.items()), flush=True)
    periods = {"30 days": resolve(PeriodKind.DAYS30, cfg.site.timezone, now),
               "12 months": resolve(PeriodKind.CUSTOM, cfg.site.timezone, now,
                                    start=(now - timedelta(days=364)).date(), end=now.date())}
    for name, period in periods.items():
        def board(period=period, raw=False):
            with db.read_session() as s:
                s.info[RAW_KEY] = raw
                return kpi_board.compute(s, cfg, period)

        med, cpu, b = timed(board, args.repeat)
        print(f"  dashboard {name:>9}: {med * 1000:7.0f} ms, {cpu * 1000:6.0f} ms CPU here "
              f"(median of {args.repeat}; "
              f"{b.kpis.incidents:,} cases, {len(b.charts.buckets.starts)} {b.charts.buckets.step} buckets; "
              f"load {_load()})", flush=True)
        if args.raw:
            rmed, rcpu, rb = timed(lambda period=period: board(period, raw=True), 1)
            same = rb.model_dump(exclude={"computed_at": True, "kpis": {"computed_at"}}) == b.model_dump(
                exclude={"computed_at": True, "kpis": {"computed_at"}})
            print(f"     raw rows {name:>9}: {rmed * 1000:7.0f} ms, {rcpu * 1000:6.0f} ms CPU here "
                  f"(the path without rollups; same board: {same})", flush=True)
    for part, (wall, cpu) in parts(db, cfg, periods["12 months"]).items():
        print(f"    12 months, {part:>15}: {wall * 1000:7.0f} ms, {cpu * 1000:6.0f} ms CPU here")
    db.dispose()


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"],
                    choices=["sqlite", "postgresql"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--database-url", help="a PostgreSQL server to use instead of a private cluster")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="SQLite: keep the seeded database in DIR and reuse it on the next run "
                         "(seeding 1,000,000 cases takes minutes); with --database-url a seeded "
                         "database is reused the same way")
    ap.add_argument("--raw", action="store_true", help="also time the raw-row path once (and compare)")
    args = ap.parse_args()
    print(f"dashboard_year: {args.cases:,} cases; machine load average {_load()} on {os.cpu_count()} CPUs")
    if "sqlite" in args.engines:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            run("sqlite", f"sqlite:///{args.keep / 'gateway.db'}", args)
        else:
            with tempfile.TemporaryDirectory(prefix="siaga-year-") as d:
                run("sqlite", f"sqlite:///{Path(d) / 'gateway.db'}", args)
    if "postgresql" in args.engines:
        if args.database_url:
            run("postgresql", args.database_url, args)
        else:
            from testkit.postgres import PostgresCluster

            cluster = PostgresCluster().start()
            try:
                run("postgresql", cluster.url(cluster.create_database()), args)
            finally:
                cluster.stop()


if __name__ == "__main__":
    main()

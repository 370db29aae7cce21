"""Dashboard load benchmark: does an open dashboard stall the intake?
Prints numbers; asserts nothing.

Issue 22's numbers (about 2.5 minutes for 20,000 cases on 2 quiet cores;
the 200,000-case history takes about a minute more to seed):

    .venv/bin/python bench/dashboard_load.py --cases 20000 --seconds 30 --rounds 3
    .venv/bin/python bench/dashboard_load.py --cases 200000 --seconds 30 --rounds 3
    # PostgreSQL instead of SQLite (a private cluster is started and removed):
    .venv/bin/python bench/dashboard_load.py --cases 20000 --postgres
    # the consoles as before the event stream (a full list read every 3 s):
    .venv/bin/python bench/dashboard_load.py --cases 20000 --consoles-mode poll

For each history size: a fresh database is seeded straight through the
store (bulk inserts: a month of cases with OPD assignments, acks,
resolutions and calls; finished parts closed, so this gateway's SLA sweep
has no backlog to escalate), then a real gateway process (``siaga gateway``)
runs on a real Mosquitto started here. A unit publishes one incident every
``--gap-ms`` and times publish -> the gateway's Ack, with no viewers
and while ``--dashboards`` dashboards poll ``GET /api/dashboard`` every
``--poll-s`` (the page's one request: the period's KPIs, previous period,
declines and chart series) and ``--consoles`` consoles follow the live
queue as the console page does (``--consoles-mode push``, the default: the
``/api/events`` stream, and on every event one list re-read at a time, only
what changed since (``updated_since``), a full read every 30 s; ``poll``:
``GET /api/incidents?limit=50`` every ``--poll-s``). All viewers are logged
in with a session cookie and run in a process of their own so their threads
do not slow the unit's timing; the two phases alternate in ``--rounds``
rounds, so load from elsewhere on the machine does not fall on one side only.
Also printed: KPI and list request times, the gateway's CPU, one uncached
dashboard computation, and the load average. Issue 15's year of a
province: ``--cases 1000000 --days 365 --period 12m`` (the dashboards
show the last 12 months). Done-when targets (issue 22, 20,000
cases): ack p99 with viewers <= 1.5 x quiet p99; KPI request p50 <= 500 ms.
On a shared machine the p99s are noise: compare runs at a low load average.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from central.broker.files import broker_tempdir  # noqa: E402
from central.broker.process import MosquittoProcess, free_port  # noqa: E402
from gateway import auth, kpi_board  # noqa: E402
from gateway.config import load_config  # noqa: E402
from gateway.store import devices  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from gateway.store.models import Assignment, Call, Incident  # noqa: E402
from protocol.codec import decode, encode  # noqa: E402
from protocol.mqtt import BrokerSettings, connect, make_client  # noqa: E402
from protocol.reports import Ack, Location, Source  # noqa: E402
from protocol.reports import Incident as IncidentMsg  # noqa: E402
from protocol.topics import DeviceTopic, device_topic  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from page_viewers import DASHBOARD, PASSWORD, Viewers  # noqa: E402

UNIT = "box-bench"
OPDS = ("damkar", "dinkes", "bpbd", "polres")
CATS = ("fire", "medical", "flood", "crime", "other", "other", "prank", "test")


SITE_TZ = "Asia/Jakarta"  # the site file below names none: the default
WEB_NICE = 5  # systemd/siaga-gateway-web.service's Nice=


def site_yaml(db_url: str, broker: MosquittoProcess, port: int, snapshot_s: float) -> str:
    opds = "\n".join(f"  - {{id: {o}, name: {o.upper()}, channels: {{mqtt_terminal: false}}}}"
                     for o in OPDS)
    return f"""
mode: demo
site: {{name: Kota Beban, case_prefix: BEB}}
broker: {{host: {broker.host}, port: {broker.port}}}
gateway:
  database_url: "{db_url}"
  instance_id: bench
  kpi_snapshot_s: {snapshot_s}
  http: {{host: 127.0.0.1, port: {port}}}
opds:
{opds}
routing:
  police_opd: polres
  rules:
    - {{categories: [fire], opds: [damkar]}}
  sla:
    fire: {{ack_min: 5, resolve_min: 60}}
    medical: {{ack_min: 3, resolve_min: 45}}
"""


def seed(db: Database, n: int, rnd: random.Random, days: int = 30) -> float:
    """``n`` cases over the last ``days`` days (about 60 % given to an OPD) and
    n / 2 calls, in bulk; returns seconds taken."""
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    chunk = 10_000
    for start in range(0, n, chunk):
        incs, asgs, calls = [], [], []
        for pk in range(start + 1, min(n, start + chunk) + 1):
            at = now - timedelta(seconds=rnd.uniform(60, days * 86400 - 60))
            cat = rnd.choice(CATS)
            junk = cat in ("prank", "test")
            incs.append({"pk": pk, "id": f"{pk:026d}", "case_no": f"BEB-2026-{pk:06d}", "category": cat,
                         "source": "field_button", "priority": 2, "device_id": UNIT,
                         "status": "rejected" if junk else rnd.choice(("closed", "closed", "resolved",
                                                                       "received", "acknowledged")),
                         "received_at": at, "updated_at": at, "description": "Laporan warga " + "x" * 80,
                         "reject_reason": cat if junk else None})
            if not junk and rnd.random() < 0.7:
                d = at + timedelta(seconds=rnd.uniform(5, 120))
                ack = d + timedelta(seconds=rnd.expovariate(1 / 240)) if rnd.random() < 0.9 else None
                done = ack is not None and rnd.random() < 0.8
                res = ack + timedelta(seconds=rnd.expovariate(1 / 3000)) if done else None
                # past its limits, a case of the history has been escalated already (by the
                # SLA watch of the time), so this gateway's watch does not start on them
                ack_esc, res_esc = d + timedelta(minutes=5), d + timedelta(minutes=60)
                # a finished part is not open (an open one of the history would be
                # escalated by the SLA sweep of this gateway, the whole backlog at once)
                part = "resolved" if res else "acknowledged" if ack else "dispatched"
                asgs.append({"incident_pk": pk, "opd": rnd.choice(OPDS), "dispatched_at": d, "status": part,
                             "acknowledged_at": ack, "resolved_at": res, "sla_ack_min": 5.0,
                             "sla_resolve_min": 60.0,
                             "ack_escalated_at": ack_esc if (ack or now) > ack_esc else None,
                             "resolve_escalated_at": res_esc if (res or now) > res_esc else None})
            if pk % 2:
                missed = rnd.random() < 0.1
                calls.append({"id": f"C{pk:025d}", "device_id": UNIT, "seq": pk, "direction": "incoming",
                              "answer_s": None if missed else rnd.expovariate(1 / 9),
                              "duration_s": 60.0, "end_reason": "missed" if missed else "remote_hangup",
                              "received_at": at})
        with db.session() as s:
            s.execute(insert(Incident), incs)
            if asgs:
                s.execute(insert(Assignment), asgs)
            s.execute(insert(Call), calls)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as c:
            c.execute(text("SELECT setval('incidents_pk_seq', (SELECT max(pk) FROM incidents))"))
            c.execute(text("ANALYZE"))
    # the KPI rollups of the loaded days, as `siaga gateway rollups` after a bulk import
    # (else the rollups role catches them up during the first measured phase)
    from gateway import kpi_rollup

    with db.session() as s:
        kpi_rollup.refresh(s, SITE_TZ)
    return time.perf_counter() - t0


def board_period(period: str, tz: str):
    """The period of ``dashboard_path`` (for the one uncached computation printed)."""
    from gateway.kpi_period import PeriodKind, resolve

    now = datetime.now(UTC)
    if period == "30d":
        return resolve(PeriodKind.DAYS30, tz, now)
    today = now.astimezone(ZoneInfo(tz)).date()
    return resolve(PeriodKind.CUSTOM, tz, now, start=today - timedelta(days=364), end=today)


def dashboard_path(period: str) -> str:
    """What the dashboards poll: the page's default (30 days) or the last 12 months."""
    if period == "30d":
        return DASHBOARD
    today = datetime.now(ZoneInfo(SITE_TZ)).date()
    return f"/api/dashboard?period=custom&start={today - timedelta(days=364)}&end={today}"


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Until the gateway process at ``url`` answers ``/readyz`` 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"gateway not ready; see {log}")
        time.sleep(0.2)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def list_reads(url: str) -> dict[str, float]:
    """The gateway's case-list answers so far: computed (a query) or shared."""
    out = {"computed": 0.0, "shared": 0.0}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("siaga_gateway_list_reads_total{"):
            how = line.split('how="', 1)[1].split('"', 1)[0]
            out[how] = float(line.rsplit(" ", 1)[1])
    return out


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] if s else float("nan")


class Unit:
    """One field unit publishing incidents and timing the gateway's acks."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.sent: dict[str, float] = {}
        self.acked: dict[str, float] = {}
        self.seq = 0
        s = BrokerSettings(host=broker.host, port=broker.port, session_expiry_s=0)
        self.c = make_client(f"{UNIT}-bench", s)
        ready, subbed = threading.Event(), threading.Event()
        self.c.on_connect = lambda *_a: ready.set()
        self.c.on_subscribe = lambda *_a: subbed.set()
        self.c.on_message = self._on_ack
        connect(self.c, s, clean_start=True)
        self.c.loop_start()
        if not ready.wait(10):
            raise RuntimeError("unit: no MQTT connection")
        self.c.subscribe(device_topic(UNIT, DeviceTopic.ACK), 1)
        subbed.wait(5)

    def _on_ack(self, _c, _u, msg) -> None:
        t = time.perf_counter()
        for item in decode(Ack, msg.payload).stored:
            self.acked.setdefault(item.id, t)

    def run(self, seconds: float, gap_s: float) -> list[float]:
        """Publish for ``seconds``; publish -> ack times (ms) of those messages."""
        ids = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.seq += 1
            m = IncidentMsg(device=UNIT, seq=self.seq, category="other", source=Source.FIELD_BUTTON,
                            description="Tombol ditekan",
                            location=Location(lat=-7.6, lon=111.5, area="Taman"))
            self.sent[m.id] = time.perf_counter()
            self.c.publish(device_topic(UNIT, DeviceTopic.INCIDENT), encode(m), qos=1)
            ids.append(m.id)
            time.sleep(gap_s)
        deadline = time.monotonic() + 120
        while any(i not in self.acked for i in ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        lost = sum(1 for i in ids if i not in self.acked)
        if lost:
            print(f"  PERINGATAN / WARNING: {lost} of {len(ids)} not acked within 120 s")
        return [(self.acked[i] - self.sent[i]) * 1000 for i in ids if i in self.acked]

    def stop(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def run_size(n: int, args: argparse.Namespace) -> None:
    tmp = broker_tempdir(prefix="siaga-dash-")  # the broker's user must reach it (we may be root)
    broker = MosquittoProcess(tmp / "broker")
    broker.start()
    db_url = args.database_url or f"sqlite:///{tmp / 'gateway.db'}"
    if args.database_url:
        eng = Database(db_url).engine
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    port = free_port()
    site = tmp / "site.yaml"
    site.write_text(site_yaml(db_url, broker, port, args.snapshot_s))
    db = Database(db_url)
    db.migrate()
    with db.session() as s:
        devices.add(s, UNIT, profile="field", label="Kotak bench")
        auth.create_user(s, "walikota", PASSWORD, "supervisor")
    took = seed(db, n, random.Random(n), args.days)
    cfg = load_config(site)
    t0 = time.perf_counter()
    with db.read_session() as s:
        kpi_board.compute(s, cfg, board_period(args.period, cfg.site.timezone))
    compute_ms = (time.perf_counter() - t0) * 1000
    db.dispose()
    url = f"http://127.0.0.1:{port}"
    log = (tmp / "gateway.log").open("wb")
    siaga = [str(Path(sys.executable).with_name("siaga")), "gateway", "--config", str(site)]
    # --web-process: the intake process answers HTTP on a port nobody views;
    # the viewers use a --web-only process on the site's port
    intake_port = free_port() if args.web_process else port
    gw = subprocess.Popen(siaga + (["--http-port", str(intake_port)] if args.web_process else []),
                          stdout=subprocess.DEVNULL, stderr=log)
    web = None
    try:
        wait_ready(f"http://127.0.0.1:{intake_port}", gw, tmp / "gateway.log")
        if args.web_process:
            # as systemd/siaga-gateway-web.service runs it: below the intake (Nice=5)
            web = subprocess.Popen([*siaga, "--web-only"], stdout=subprocess.DEVNULL, stderr=log,
                                   preexec_fn=lambda: os.nice(WEB_NICE))
            wait_ready(url, web, tmp / "gateway.log")
        unit = Unit(broker)
        ctx = mp.get_context("fork")
        viewers = Viewers(ctx, url, args.dashboards, args.consoles, args.poll_s, args.consoles_mode,
                          dashboard=dashboard_path(args.period))
        viewers.start()
        active = viewers.active
        unit.run(2, args.gap_ms / 1000)  # warm-up
        # quiet and busy phases take turns, so a load spike from elsewhere on
        # the machine does not land on one side only
        quiet: list[float] = []
        busy: list[float] = []
        cpu = {"quiet": 0.0, "busy": 0.0}
        web_cpu = {"quiet": 0.0, "busy": 0.0}
        reads0 = list_reads(url)
        part = args.seconds / args.rounds
        for _ in range(args.rounds):
            for name, acks in (("quiet", quiet), ("busy", busy)):
                active.set() if name == "busy" else active.clear()
                c0, w0 = cpu_s(gw.pid), cpu_s(web.pid) if web else 0.0
                acks += unit.run(part, args.gap_ms / 1000)
                cpu[name] += (cpu_s(gw.pid) - c0) / args.seconds
                web_cpu[name] += ((cpu_s(web.pid) if web else 0.0) - w0) / args.seconds
        active.clear()
        reads = {k: v - reads0[k] for k, v in list_reads(url).items()}
        views = viewers.results()
        unit.stop()
    finally:
        for p in (web, gw):
            if p is not None:
                p.terminate()
                p.wait(30)
        log.close()
        broker.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    cpu_quiet, cpu_busy = cpu["quiet"], cpu["busy"]
    dash = dashboard_path(args.period)
    kpis = [ms for p, ms, _ in views if p == dash]
    lists = [ms for p, ms, _ in views if p != dash]
    kinds = {p: [ms for p2, ms, _ in views if p2 == p] for p, _ms, _c in views if p != dash}
    bad = sum(1 for *_x, code in views if code != 200)
    q99, b99 = pct(quiet, 99), pct(busy, 99)
    print(f"{n:,} cases over {args.days} days (seeded in {took:.1f} s; {db_url.split(':')[0]}); one "
          f"uncached dashboard ({args.period}) computation {compute_ms:.0f} ms")
    print(f"  ack, no viewers      : p50 {med(quiet):7.1f} ms  p99 {q99:7.1f} ms  "
          f"({len(quiet)} incidents)  gateway CPU {cpu_quiet:.0%}")
    print(f"  ack, {args.dashboards} dash + {args.consoles} cons: p50 {med(busy):7.1f} ms  "
          f"p99 {b99:7.1f} ms  ({len(busy)} incidents)  gateway CPU {cpu_busy:.0%}")
    if args.web_process:
        print(f"  web process CPU      : {web_cpu['quiet']:.0%} without viewers, {web_cpu['busy']:.0%} with "
              "(the gateway CPU above is the intake process's)")
    print(f"  GET /api/dashboard   : p50 {med(kpis):7.1f} ms  p99 {pct(kpis, 99):7.1f} ms  "
          f"({len(kpis)} requests)")
    print(f"  GET /api/incidents   : p50 {med(lists):7.1f} ms  p99 {pct(lists, 99):7.1f} ms  "
          f"({len(lists)} requests, consoles {args.consoles_mode}; {bad} not 200; "
          f"{reads['computed']:.0f} queried, {reads['shared']:.0f} shared)")
    if args.consoles and args.consoles_mode == "push":
        print(f"    each console read {len(lists) / args.seconds / args.consoles:.2f} times a second "
              "(the page: at most once a second while cases keep coming)")
    for kind, v in sorted(kinds.items()) if len(kinds) > 1 else ():
        print(f"    {kind:19}: p50 {med(v):7.1f} ms  p99 {pct(v, 99):7.1f} ms  ({len(v)} requests)")
    ok_ack = b99 <= 1.5 * q99
    ok_kpi = med(kpis) <= 500
    print(f"  targets: ack p99 ratio {b99 / q99:.2f} (<= 1.5: {'ya/yes' if ok_ack else 'TIDAK/NO'}); "
          f"KPI p50 <= 500 ms: {'ya/yes' if ok_kpi else 'TIDAK/NO'}; load average now "
          f"{os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="measured time with and without viewers, each")
    ap.add_argument("--rounds", type=int, default=3, help="quiet and busy phases alternate this many times")
    ap.add_argument("--gap-ms", type=float, default=50.0, help="pause between the unit's incidents")
    ap.add_argument("--dashboards", type=int, default=5)
    ap.add_argument("--consoles", type=int, default=20)
    ap.add_argument("--poll-s", type=float, default=3.0, help="the dashboards' poll (the pages' 3 s)")
    ap.add_argument("--consoles-mode", choices=("push", "poll"), default="push",
                    help="push: the event stream + updated_since re-reads, as the console page; "
                         "poll: a 50-row list every --poll-s")
    ap.add_argument("--snapshot-s", type=float, default=5.0, help="gateway.kpi_snapshot_s")
    ap.add_argument("--database-url", help="PostgreSQL to use instead of a SQLite file "
                                           "(its public schema is dropped)")
    ap.add_argument("--postgres", action="store_true",
                    help="a private PostgreSQL cluster (fsync on) started here instead of SQLite")
    ap.add_argument("--web-process", action="store_true",
                    help="viewers on a `siaga gateway --web-only` process beside the intake process "
                         "(docs/deploy-scale.md); default: one gateway process serves everything")
    ap.add_argument("--days", type=int, default=30,
                    help="the history's span in days (a year of a province: --cases 1000000 --days 365)")
    ap.add_argument("--period", choices=("30d", "12m"), default="30d",
                    help="what the dashboards show: the page's default 30 days, or the last 12 months")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (gateway.log, database)")
    args = ap.parse_args()
    print(f"history over {args.days} days; dashboards show {args.period}; "
          f"unit: one incident every {args.gap_ms:g} ms, {args.seconds:g} s without and "
          f"{args.seconds:g} s with viewers in {args.rounds} alternating rounds; dashboards poll "
          f"every {args.poll_s:g} s, consoles {args.consoles_mode}; kpi_snapshot_s {args.snapshot_s:g}; "
          f"{'intake + web process' if args.web_process else 'one gateway process'}; "
          f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})", flush=True)
    cluster = None
    if args.postgres:
        from testkit.postgres import PostgresCluster

        cluster = PostgresCluster(durable=True).start()
    try:
        for n in args.cases:
            if cluster is not None:
                args.database_url = cluster.url(cluster.create_database(), driver="postgresql")
            run_size(n, args)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()

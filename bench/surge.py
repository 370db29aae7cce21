"""Flood-surge benchmark: a burst of presses across the city while consoles
and dashboards are open. Prints numbers; asserts nothing.

    .venv/bin/python bench/surge.py [--units 1000] [--history 100000] [--presses 2000]
                                    [--seconds 60] [--engines sqlite postgresql] [--gateways 1 2]
    .venv/bin/python bench/surge.py --units 200 --history 20000 --presses 500   # scaled down
    .venv/bin/python bench/surge.py --engines sqlite --gateways 1 --web-process  # pages apart

For each engine and each number of gateway processes: a fresh database
(a SQLite file, or a new database in a private PostgreSQL cluster started
here with fsync on, never the machine's server) seeded with ``--history``
cases straight through the store; ``--gateways`` real ``siaga gateway``
processes on one Mosquitto (shared subscription) with Damkar's webhook at a
real HTTP server; ``--units`` light units (one MQTT session each, as the
contract has it, ``--units-per-proc`` per process) subscribed to their acks;
``--consoles`` + ``--dashboards`` pages polling as the pages do; then
``--presses`` fire presses at random moments over ``--seconds`` from random
units. Printed: press -> ack and press -> webhook p50/p99, lost and doubled,
each gateway's CPU and RSS, and the raw broker round trip (a QoS 1 publish
to a subscriber on the same broker) before and during the surge; the ack
split at the Ack's ``gateway_time`` (press -> published, published -> unit)
and by the gateway's own stages (``siaga_gateway_ingest_seconds``: queued,
stored, acked; batches over 100 ms), and the disk's raw fsync time in the
same run (a virtual disk's rare slow fsync holds every press queued behind
the commit that waits for it). The history is flushed to disk before the
gateways start (``os.sync``; PostgreSQL ``VACUUM (ANALYZE)`` then
``CHECKPOINT``, as a site whose history autovacuum has long been through).
The site's periods
are the shipped ones (SLA timers every 15 s) unless ``--quick-checks``.

The broker is anonymous (demo mode): units here have no per-device
credentials, which changes nothing on the measured path (Mosquitto checks
the password at CONNECT, and the ACL per message either way).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dashboard_load import (  # noqa: E402
    DASHBOARD,
    PASSWORD,
    UNIT,
    WEB_NICE,
    Viewers,
    cpu_s,
    pct,
    seed,
    wait_ready,
)
from sqlalchemy import bindparam, text  # noqa: E402
from surge_probes import (  # noqa: E402
    RoundTrip,
    bucket_pct,
    fsync_probe,
    rss_mb,
    slow_by_second,
    stages,
    unit_client,
)

from central.broker.files import broker_tempdir  # noqa: E402
from central.broker.process import MosquittoProcess, free_port  # noqa: E402
from gateway import auth  # noqa: E402
from gateway.store import devices  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from protocol.codec import decode, encode  # noqa: E402
from protocol.reports import Ack, Incident, Location, Source  # noqa: E402
from protocol.topics import DeviceTopic, device_topic  # noqa: E402
from testkit.gateway import OpdServer, site_yaml  # noqa: E402

SIAGA = str(Path(sys.executable).with_name("siaga"))


def unit_ids(n: int) -> list[str]:
    return [f"box-{i:04d}" for i in range(n)]


def _units_proc(host: str, port: int, ids: list[str], schedule: list[tuple[float, str, int]],
                ready, go, out) -> None:
    """Runs in its own process: one MQTT session per unit, each subscribed
    to its ack topic; at ``go`` (a wall-clock start) it presses on schedule."""
    acks: dict[str, list[tuple[float, bool, float]]] = defaultdict(list)
    lock = threading.Lock()

    def on_ack(_c, _u, msg) -> None:
        t = time.time()
        ack = decode(Ack, msg.payload)
        g = ack.gateway_time.timestamp()  # when the gateway published it (same host's clock)
        with lock:
            for item in ack.stored:
                acks[item.id].append((t, item.duplicate, g))

    clients = {}
    for d in ids:
        c, ok = unit_client(host, port, d)
        c.on_message = on_ack
        clients[d] = (c, ok)
    for d, (c, ok) in clients.items():
        if not ok.wait(60):
            raise RuntimeError(f"{d}: no MQTT connection")
        c.subscribe(device_topic(d, DeviceTopic.ACK), 1)
    time.sleep(1.0)  # SUBACKs (a missed one shows as lost acks, not as a hang)
    ready.put(len(ids))
    t0 = go.get()
    sent: dict[str, float] = {}
    for off, dev, seq in schedule:
        delay = t0 + off - time.time()
        if delay > 0:
            time.sleep(delay)
        m = Incident(device=dev, seq=seq, category="fire", source=Source.FIELD_BUTTON,
                     description="Banjir, rumah terbakar, tolong",
                     location=Location(lat=-7.63, lon=111.52, area="Taman"))
        sent[m.id] = time.time()
        clients[dev][0].publish(device_topic(dev, DeviceTopic.INCIDENT), encode(m), qos=1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            if all(i in acks for i in sent):
                break
        time.sleep(0.1)
    time.sleep(1.0)  # a doubled ack arrives right after the first
    for c, _ok in clients.values():
        c.disconnect()
        c.loop_stop()
    with lock:
        out.put((sent, dict(acks)))


def prepare_db(db_url: str, units: list[str], history: int) -> float:
    db = Database(db_url)
    db.migrate()
    with db.session() as s:
        for d in [UNIT, *units]:
            devices.add(s, d, profile="field", area="Taman")
        auth.create_user(s, "walikota", PASSWORD, "supervisor")
    took = seed(db, history, random.Random(history))
    if db.engine.dialect.name == "postgresql":
        # a site's history was written over months and autovacuum has long
        # been through it; right after a bulk load it would vacuum and analyse
        # the tables during the surge. Then the load's dirty buffers to disk.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM (ANALYZE)"))
            c.execute(text("CHECKPOINT"))
    db.dispose()
    # the history's pages out of the page cache before the surge: else the
    # kernel writes them back during it, and the gateway's fsyncs queue behind
    # (single batches of 0.1-1 s right after a seed; a site's surge does not
    # follow a bulk load of its history)
    os.sync()
    return took


def start_gateways(tmp: Path, broker: MosquittoProcess, db_url: str, hook: str, k: int, web: bool,
                   quick_checks: bool = False):
    """``k`` gateway processes, and with ``web`` a ``--web-only`` process
    after them (niced as its systemd unit), which the pages then use. The
    site's periods are the shipped ones (SLA timers every 15 s, roles every
    2 s) unless ``quick_checks`` (the test suite's 0.2 s)."""
    procs, urls = [], []
    for i in range(k + web):
        port = free_port()
        site = tmp / f"site-{i}.yaml"
        site.write_text(site_yaml(tmp, broker, hooks={"damkar": hook}, db_url=db_url, port=port,
                                  instance=f"surge-{i}", dispatch="poll_s: 1.0",
                                  quick_checks=quick_checks))
        log = (tmp / f"gateway-{i}.log").open("wb")
        if i < k:
            procs.append(subprocess.Popen([SIAGA, "gateway", "--config", str(site)],
                                          stdout=subprocess.DEVNULL, stderr=log))
        else:
            wait_ready(urls[0], procs[0], tmp / "gateway-0.log", timeout=120)  # it migrated the database
            procs.append(subprocess.Popen([SIAGA, "gateway", "--web-only", "--config", str(site)],
                                          stdout=subprocess.DEVNULL, stderr=log,
                                          preexec_fn=lambda: os.nice(WEB_NICE)))
        urls.append(f"http://127.0.0.1:{port}")
    for i, (url, p) in enumerate(zip(urls, procs, strict=True)):
        wait_ready(url, p, tmp / f"gateway-{i}.log", timeout=120)
    return procs, urls


def count_stored(db_url: str, ids: list[str]) -> tuple[int, int]:
    """(rows, distinct ids) among the pressed ids."""
    db = Database(db_url)
    rows = distinct = 0
    with db.session() as s:
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            q = text("SELECT count(*), count(DISTINCT id) FROM incidents WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True))
            r, d = s.execute(q, {"ids": part}).one()
            rows, distinct = rows + r, distinct + d
    db.dispose()
    return rows, distinct


def run(engine: str, k: int, args: argparse.Namespace, pg) -> None:
    tmp = broker_tempdir(prefix="siaga-surge-")
    broker = MosquittoProcess(tmp / "broker")
    broker.start()
    opd = OpdServer()
    units = unit_ids(args.units)
    db_url = (f"sqlite:///{tmp / 'gateway.db'}" if engine == "sqlite" else pg.url(pg.create_database()))
    took = prepare_db(db_url, units, args.history)
    procs, urls = start_gateways(tmp, broker, db_url, opd.url, k, args.web_process, args.quick_checks)
    ctx = mp.get_context("fork")
    rnd = random.Random(7)
    seqs: dict[str, int] = defaultdict(int)
    plan = sorted((rnd.uniform(0, args.seconds), rnd.choice(units)) for _ in range(args.presses))
    groups = [units[i:i + args.units_per_proc] for i in range(0, len(units), args.units_per_proc)]
    where = {d: gi for gi, g in enumerate(groups) for d in g}
    schedules: list[list[tuple[float, str, int]]] = [[] for _ in groups]
    for off, d in plan:
        seqs[d] += 1
        schedules[where[d]].append((off, d, seqs[d]))
    ready, out = ctx.Queue(), ctx.Queue()
    gos = [ctx.Queue() for _ in groups]
    workers = [ctx.Process(target=_units_proc, args=(broker.host, broker.port, g, s, ready, go, out))
               for g, s, go in zip(groups, schedules, gos, strict=True)]
    viewers = Viewers(ctx, urls[-1], args.dashboards, args.consoles, args.poll_s, args.consoles_mode)
    try:
        for w in workers:
            w.start()
        connected = sum(ready.get(timeout=300) for _ in workers)
        viewers.start()
        viewers.active.set()
        rtt = RoundTrip(broker)
        rtt_quiet = rtt.sample(args.rtt_n)
        cpu0 = [cpu_s(p.pid) for p in procs]
        t0 = time.time() + 1.0
        for go in gos:
            go.put(t0)
        probe_stop, rtt_surge, rss_surge = threading.Event(), [], [0.0] * len(procs)
        probe = threading.Thread(target=rtt.during, args=(probe_stop, rtt_surge, [p.pid for p in procs],
                                                          rss_surge))
        probe.start()
        disk: list[float] = []
        disk_probe = threading.Thread(target=fsync_probe, args=(tmp, probe_stop, disk))
        disk_probe.start()
        results = [out.get(timeout=args.seconds + 300) for _ in workers]
        wall = time.time() - t0
        probe_stop.set()
        probe.join()
        disk_probe.join()
        cpu = [(cpu_s(p.pid) - c) / wall for p, c in zip(procs, cpu0, strict=True)]
        sent: dict[str, float] = {}
        acks: dict[str, list[tuple[float, bool, float]]] = {}
        for s, a in results:
            sent |= s
            acks |= a
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            got = {json.loads(h.body)["incident_id"] for h in list(opd.hits)}
            if all(i in got for i in sent):
                break
            time.sleep(0.2)
        time.sleep(1.0)
        views = viewers.results()
        rss = [rss_mb(p.pid) for p in procs]
        stage = stages(urls[:k])
        rtt.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
        for w in workers:
            w.join(5)
        opd.stop()
        broker.kill()
    rows, distinct = count_stored(db_url, list(sent))
    shutil.rmtree(tmp, ignore_errors=True)  # the gateways' logs go with it
    hooks: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for h in opd.hits:
        hooks[json.loads(h.body)["incident_id"]].append((h.at, h.headers.get("X-Siaga-Delivery", "")))
    ack_ms = [(a[0][0] - sent[i]) * 1000 for i, a in acks.items() if i in sent and a]
    # the ack's gateway_time splits it: press -> the gateway publishes the ack (broker in,
    # queue, commit), then the ack's way back (broker out, the unit's process)
    in_ms = [(a[0][2] - sent[i]) * 1000 for i, a in acks.items() if i in sent and a]
    back_ms = [(a[0][0] - a[0][2]) * 1000 for i, a in acks.items() if i in sent and a]
    hook_ms = [(min(t for t, _ in hooks[i]) - sent[i]) * 1000 for i in sent if hooks.get(i)]
    no_ack = sum(1 for i in sent if i not in acks)
    no_hook = sum(1 for i in sent if i not in hooks)
    new_acks = sum(1 for i in sent for _t, dup, _g in acks.get(i, []) if not dup)
    doubled_dispatch = sum(1 for i in sent if len({d for _t, d in hooks.get(i, [])}) > 1)
    re_posts = sum(len(v) - len({d for _t, d in v}) for v in hooks.values())
    bad_views = sum(1 for *_x, code in views if code != 200)
    lists = [ms for p, ms, _ in views if p != DASHBOARD]
    kpis = [ms for p, ms, _ in views if p == DASHBOARD]

    def line(name: str, v: list[float]) -> str:
        return (f"  {name:26} p50 {statistics.median(v):8.1f} ms  p99 {pct(v, 99):8.1f} ms  "
                f"max {max(v):8.1f} ms  (n={len(v)})" if v else f"  {name:26} (none)")

    web = " + a web process" if args.web_process else ""
    print(f"== {engine}, {k} gateway process(es){web}: {connected} units connected, {args.history:,} cases "
          f"of history (seeded in {took:.1f} s), {len(sent)} presses in {args.seconds:g} s, "
          f"{args.consoles} consoles + {args.dashboards} dashboards (load average now "
          f"{os.getloadavg()[0]:.1f})")
    print(line("raw broker RTT, before", rtt_quiet))
    print(line("raw broker RTT, in surge", rtt_surge))
    print(line("raw disk fsync, in surge", disk))
    print(line("press -> ack", ack_ms))
    print(line("  press -> ack published", in_ms))
    print(line("  ack published -> unit", back_ms))
    slow_by_second("acks over 50 ms", [(sent[i] - t0, (a[0][0] - sent[i]) * 1000)
                                         for i, a in acks.items() if i in sent and a], 50)
    for name in ("queued", "stored", "commit", "acked"):
        if name in stage:
            b = stage[name]
            over = b[-1][1] - next(n for le, n in b if le >= 0.1)
            print(f"    in the gateway, {name:8} p50 {bucket_pct(b, 50):6.1f} ms  "
                  f"p99 {bucket_pct(b, 99):6.1f} ms  over 100 ms: {over:.0f} of {b[-1][1]:.0f} "
                  f"(histogram buckets)")
    print(line("press -> OPD webhook", hook_ms))
    slow_by_second("webhooks over 250 ms", [(sent[i] - t0, (min(t for t, _ in hooks[i]) - sent[i]) * 1000)
                                            for i in sent if hooks.get(i)], 250)
    print(f"  lost: {len(sent) - distinct} not stored, {no_ack} not acked, {no_hook} without webhook;"
          f"  doubled: {rows - distinct} stored twice, {new_acks - (len(sent) - no_ack)} acked as new twice, "
          f"{doubled_dispatch} dispatched twice ({re_posts} webhook re-POSTs of one delivery)")
    for i, (p, c, (now, peak), top) in enumerate(zip(procs, cpu, rss, rss_surge, strict=True)):
        name = "web process" if i == k else f"gateway {i}"
        print(f"  {name} (pid {p.pid}): CPU {c:.0%} of one core over {wall:.0f} s; RSS {now:.0f} MB "
              f"after, {top:.0f} MB at most in the surge, {peak:.0f} MB peak of the process (the "
              f"pages' logins: argon2 takes 64 MiB per login at once)")
    print(line("console GET /api/incidents", lists))
    print(line("dashboard GET /api/dashboard", kpis))
    print(f"  page requests not 200: {bad_views}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument("--presses", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60.0, help="the burst's length")
    ap.add_argument("--units-per-proc", type=int, default=250)
    ap.add_argument("--consoles", type=int, default=20)
    ap.add_argument("--dashboards", type=int, default=5)
    ap.add_argument("--poll-s", type=float, default=3.0, help="how often a page polls")
    ap.add_argument("--consoles-mode", choices=["push", "poll"], default="push",
                    help="push: consoles follow the event stream as the page does; poll: every poll-s")
    ap.add_argument("--rtt-n", type=int, default=200, help="raw broker round trips before the surge")
    ap.add_argument("--quick-checks", action="store_true",
                    help="SLA timers and roles checked every 0.2 s as in the test suite (default: the "
                         "shipped 15 s and 2 s)")
    ap.add_argument("--pg-set", action="append", metavar="NAME=VALUE",
                    help="a setting of the private PostgreSQL cluster (e.g. wal_compression=on), "
                         "repeatable")
    ap.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"],
                    choices=["sqlite", "postgresql"])
    ap.add_argument("--gateways", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--web-process", action="store_true",
                    help="the pages on a `siaga gateway --web-only` process beside the gateways "
                         "(docs/deploy-scale.md)")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; anonymous demo broker; "
          f"PostgreSQL: a private cluster with fsync on", flush=True)
    pg = None
    if "postgresql" in args.engines:
        from testkit.postgres import PostgresCluster

        pg = PostgresCluster(durable=True).start()
        if args.pg_set:
            pg.configure(dict(kv.split("=", 1) for kv in args.pg_set))
            print(f"PostgreSQL settings: {', '.join(args.pg_set)}", flush=True)
    try:
        for engine in args.engines:
            for k in args.gateways:
                run(engine, k, args, pg)
    finally:
        if pg:
            pg.stop()


if __name__ == "__main__":
    main()

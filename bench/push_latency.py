"""Push latency of the live queue: a unit publishes an incident -> the
``event: case`` line reaches every connected console over server-sent
events (``GET /api/events``), and -> the case is in the list a console
re-reads on that event (what the page does). Prints numbers; asserts nothing.

    .venv/bin/python bench/push_latency.py [--consoles 50] [--incidents 200] [--gap-ms 200]

A real Mosquitto and a real gateway process (``siaga gateway``) on a SQLite
file; the consoles run in a process of their own (one asyncio loop, one
logged-in session and one event stream each; ``--readers`` of them re-read
``/api/incidents`` on events as the console page does: one read at a
time, events during a read coalesce into one more read; the whole list
first, then only what changed since, ``updated_since``). Times
are ``time.monotonic()``, system-wide on Linux, so comparable across the
processes. Two rounds publish the same number of incidents, without and
with the consoles connected; the gateway's CPU and memory in each give its
cost per connected console. Done-when (issue 14): p50/p99 of publish ->
event in 50 consoles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402
from dashboard_load import cpu_s, pct, wait_ready  # noqa: E402

from central.broker.process import MosquittoProcess, free_port  # noqa: E402
from gateway import auth  # noqa: E402
from gateway.store import devices  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from protocol.codec import encode  # noqa: E402
from protocol.mqtt import BrokerSettings, connect, make_client  # noqa: E402
from protocol.reports import Incident, Location, Source  # noqa: E402
from protocol.topics import DeviceTopic, device_topic  # noqa: E402

UNIT = "box-push"
PASSWORD = "bench-password-0123"


def site_yaml(db_url: str, broker: MosquittoProcess, port: int) -> str:
    return f"""
mode: demo
site: {{name: Kota Dorong, case_prefix: DOR}}
broker: {{host: {broker.host}, port: {broker.port}}}
gateway:
  database_url: "{db_url}"
  instance_id: push
  http: {{host: 127.0.0.1, port: {port}}}
opds:
  - {{id: damkar, name: DAMKAR, channels: {{mqtt_terminal: false}}}}
routing:
  rules:
    - {{categories: [fire], opds: [damkar]}}
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ---- the consoles: one process, one asyncio loop ------------------------------------
async def _console(url: str, reader: bool, ready: list, got: dict, seen: dict,
                   halt: asyncio.Event, delta: bool) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None)) as api:
        r = await api.post("/api/auth/login", json={"username": "operator", "password": PASSWORD})
        r.raise_for_status()
        dirty = asyncio.Event()
        listing = asyncio.create_task(_reread(api, dirty, seen, halt, delta)) if reader else None
        try:
            async with api.stream("GET", "/api/events") as r:
                kind = None
                async for line in r.aiter_lines():
                    if halt.is_set():
                        return
                    if line.startswith("event: "):
                        kind = line[7:]
                        if kind == "hello":
                            ready.append(1)
                    elif line.startswith("data: ") and kind in ("case", "resync"):
                        got.setdefault(json.loads(line[6:]).get("id"), []).append(time.monotonic())
                        dirty.set()
        finally:
            if listing:
                listing.cancel()


async def _reread(api: httpx.AsyncClient, dirty: asyncio.Event, seen: dict, halt: asyncio.Event,
                  delta: bool) -> None:
    """As the page does: one read at a time (events meanwhile coalesce into the next), the
    whole list first, then what changed since the newest case held (5 s overlap, rounded
    down to 5 s so consoles share the gateway's cached answer); the time each case first
    shows in this console."""
    mine: set[str] = set()
    newest: datetime | None = None
    while not halt.is_set():
        await dirty.wait()
        dirty.clear()
        params: dict[str, str | int] = {"limit": 200}
        if delta and newest is not None:
            since = (newest - timedelta(seconds=5)).timestamp() // 5 * 5  # as the page: shared questions
            params = {"limit": 500, "updated_since": datetime.fromtimestamp(since, UTC).isoformat()}
        page = (await api.get("/api/incidents", params=params)).json()
        t = time.monotonic()
        for i in page["items"]:
            at = datetime.fromisoformat(i["updated_at"])
            newest = at if newest is None or at > newest else newest
            if i["id"] not in mine:
                mine.add(i["id"])
                seen.setdefault(i["id"], []).append(t)


def consoles_proc(url: str, n: int, readers: int, delta: bool, ready_ev, stop_ev, q) -> None:
    async def main() -> None:
        ready: list = []
        got: dict[str, list[float]] = {}
        seen: dict[str, list[float]] = {}
        halt = asyncio.Event()
        tasks = [asyncio.create_task(_console(url, i < readers, ready, got, seen, halt, delta))
                 for i in range(n)]
        while len(ready) < n:
            await asyncio.sleep(0.05)
        ready_ev.set()
        while not stop_ev.is_set():
            await asyncio.sleep(0.1)
        halt.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        q.put((got, seen))

    asyncio.run(main())


# ---- the unit --------------------------------------------------------------------------
class Unit:
    def __init__(self, broker: MosquittoProcess) -> None:
        s = BrokerSettings(host=broker.host, port=broker.port, session_expiry_s=0)
        self.c = make_client(f"{UNIT}-bench", s)
        up = threading.Event()
        self.c.on_connect = lambda *_a: up.set()
        connect(self.c, s, clean_start=True)
        self.c.loop_start()
        if not up.wait(10):
            raise RuntimeError("unit: no MQTT connection")
        self.seq = 0

    def publish(self, n: int, gap_s: float) -> dict[str, float]:
        sent = {}
        for _ in range(n):
            self.seq += 1
            m = Incident(device=UNIT, seq=self.seq, category="other", source=Source.FIELD_BUTTON,
                         location=Location(area="Taman"))
            sent[m.id] = time.monotonic()
            self.c.publish(device_topic(UNIT, DeviceTopic.INCIDENT), encode(m), qos=1)
            time.sleep(gap_s)
        return sent

    def stop(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _line(name: str, ms: list[float]) -> str:
    return (f"  {name:44} n={len(ms):6d}  p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
            f"max {max(ms) if ms else float('nan'):7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consoles", type=int, default=50)
    ap.add_argument("--readers", type=int, default=5, help="consoles that re-read the list per event")
    ap.add_argument("--incidents", type=int, default=200, help="published in each round")
    ap.add_argument("--gap-ms", type=float, default=200.0)
    ap.add_argument("--full", dest="delta", action="store_false",
                    help="readers re-read the whole list each time (default: what changed since)")
    args = ap.parse_args()
    print(f"{args.consoles} consoles ({args.readers} re-reading the list, "
          f"{'changes since' if args.delta else 'whole list'}), {args.incidents} incidents "
          f"every {args.gap_ms:g} ms per round; {os.cpu_count()} CPUs (load average "
          f"{os.getloadavg()[0]:.1f})", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="siaga-push-"))
    tmp.chmod(0o755)  # started as root, Mosquitto drops to user mosquitto and must enter it
    broker = MosquittoProcess(tmp / "broker")
    broker.start()
    port = free_port()
    site = tmp / "site.yaml"
    db_url = f"sqlite:///{tmp / 'gateway.db'}"
    site.write_text(site_yaml(db_url, broker, port))
    db = Database(db_url)
    db.migrate()
    with db.session() as s:
        devices.add(s, UNIT, profile="field", label="Kotak bench")
        auth.create_user(s, "operator", PASSWORD, "operator")
    db.dispose()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "gateway.log"
    with log_path.open("wb") as log:
        gw = subprocess.Popen([str(Path(sys.executable).with_name("siaga")), "gateway", "--config",
                               str(site)], stdout=subprocess.DEVNULL, stderr=log)
    unit = None
    try:
        wait_ready(url, gw, log_path)
        unit = Unit(broker)
        gap = args.gap_ms / 1000
        unit.publish(5, gap)  # warm-up
        time.sleep(1)
        rss0, c0 = rss_kib(gw.pid), cpu_s(gw.pid)
        unit.publish(args.incidents, gap)
        time.sleep(1)
        quiet_cpu = cpu_s(gw.pid) - c0

        ctx = mp.get_context("spawn")
        ready, stop, q = ctx.Event(), ctx.Event(), ctx.Queue()
        proc = ctx.Process(target=consoles_proc,
                           args=(url, args.consoles, args.readers, args.delta, ready, stop, q))
        proc.start()
        if not ready.wait(120):
            raise RuntimeError("consoles did not connect")
        time.sleep(2)
        rss1, idle0 = rss_kib(gw.pid), cpu_s(gw.pid)
        time.sleep(5)
        idle_cpu = cpu_s(gw.pid) - idle0
        c1 = cpu_s(gw.pid)
        sent = unit.publish(args.incidents, gap)
        time.sleep(3)
        busy_cpu = cpu_s(gw.pid) - c1
        stop.set()
        got, seen = q.get(timeout=60)
        proc.join(30)
        lat = [(t - sent[cid]) * 1000 for cid, ts in got.items() if cid in sent for t in ts]
        vis = [(t - sent[cid]) * 1000 for cid, ts in seen.items() if cid in sent for t in ts]
        missing = sum(len(got.get(cid, [])) < args.consoles for cid in sent)
        resyncs = len(got.get(None, []))
        print(_line(f"publish -> event, {args.consoles} consoles", lat))
        print(_line(f"publish -> case in the re-read list ({args.readers})", vis))
        print(f"  cases with an event missing in some console: {missing} of {len(sent)} "
              f"(resync events instead: {resyncs})")
        per = args.incidents * args.consoles
        print(f"  gateway CPU per round: {quiet_cpu:.2f} s without consoles, {busy_cpu:.2f} s with "
              f"{args.consoles} ({args.readers} re-reading); extra per event per console "
              f"{(busy_cpu - quiet_cpu) / per * 1000:.3f} ms")
        print(f"  gateway idle with {args.consoles} consoles: {idle_cpu / 5 * 100:.1f} % of a CPU; "
              f"memory {rss0 / 1024:.1f} MiB -> {rss1 / 1024:.1f} MiB "
              f"({(rss1 - rss0) / max(1, args.consoles):.0f} KiB per console); load average at the end "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    finally:
        if unit:
            unit.stop()
        gw.terminate()
        gw.wait(30)
        broker.stop()


if __name__ == "__main__":
    main()

"""The pages of the load benchmarks (bench/dashboard_load.py, bench/surge.py):
dashboards polling and consoles following the event stream at the console
page's pace, logged in as a supervisor, a few per process. Each page stands
for a browser on a machine of its own."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

import httpx

DASHBOARD = "/api/dashboard?period=30d"  # what /dashboard polls
PASSWORD = "bench-password-0123"
READ_GAP_S = 1.0  # cases.js READ_GAP_MS
VIEWERS_NICE = 10


def _viewer(url: str, path: str, poll_s: float, offset: float, active, halt, out, logged: list) -> None:
    """One page: logs in, then polls ``path`` every ``poll_s`` while ``active``."""
    with httpx.Client(base_url=url, timeout=120) as api:
        _login(api)
        logged.append(path)
        while not halt.is_set():
            if not active.wait(0.2):
                continue
            halt.wait(offset)  # the pages were opened at different moments
            while active.is_set() and not halt.is_set():
                t0 = time.perf_counter()
                r = api.get(path)
                out.append((path, (time.perf_counter() - t0) * 1000, r.status_code))
                halt.wait(max(0.0, poll_s - (time.perf_counter() - t0)))


def _login(api: httpx.Client) -> None:
    api.post("/api/auth/login", json={"username": "walikota", "password": PASSWORD}).raise_for_status()


def _listen(url: str, cookies: httpx.Cookies, dirty: threading.Event, active, halt,
            done: threading.Event) -> None:
    """The console's ``EventSource``: every event (hello, case, resync) marks
    the list dirty; ends at the first line after the phase ends."""
    try:
        with httpx.Client(base_url=url, cookies=cookies, timeout=httpx.Timeout(30, read=60)) as c, \
                c.stream("GET", "/api/events") as r:
            for line in r.iter_lines():
                if line.startswith("event:"):
                    dirty.set()
                if not active.is_set() or halt.is_set():
                    break
    except httpx.HTTPError:
        pass
    finally:
        done.set()


def _console(url: str, _path: str, _poll_s: float, offset: float, active, halt, out, logged: list) -> None:
    """One console page as gateway/web/static/cases.js runs it: on each
    pushed event one list read at a time, at most one per second while events
    keep coming (at the next whole second: events during a read or soon after
    coalesce), only what changed since the newest row held (``updated_since``
    less 5 s, rounded down to 5 s), a full read at the start and after 30 s."""
    with httpx.Client(base_url=url, timeout=120) as api:
        _login(api)
        logged.append("console")
        while not halt.is_set():
            if not active.wait(0.2):
                continue
            halt.wait(offset)  # the pages were opened at different moments
            dirty, done = threading.Event(), threading.Event()
            threading.Thread(target=_listen, args=(url, api.cookies, dirty, active, halt, done),
                             daemon=True).start()
            held_since: float | None = None
            full_at = 0.0
            last = 0.0
            while active.is_set() and not halt.is_set():
                if not dirty.wait(0.2):
                    continue
                if time.time() - last < READ_GAP_S:  # the page's pace: at the next whole second
                    halt.wait(READ_GAP_S - time.time() % READ_GAP_S)
                dirty.clear()
                last = time.time()
                delta = held_since is not None and time.time() - full_at < 30
                q: dict[str, str] = {"limit": "500" if delta else "200"}
                if delta:
                    assert held_since is not None
                    since = (held_since - 5) // 5 * 5
                    q["updated_since"] = datetime.fromtimestamp(since, UTC).isoformat()
                else:
                    held_since, full_at = None, time.time()
                t0 = time.perf_counter()
                r = api.get("/api/incidents", params=q)
                out.append((f"/api/incidents ({'delta' if delta else 'full'})",
                            (time.perf_counter() - t0) * 1000, r.status_code))
                for i in r.json().get("items", []) if r.status_code == 200 else []:
                    at = datetime.fromisoformat(i["updated_at"]).timestamp()
                    held_since = max(held_since or at, at)
            done.wait(10)


def _viewers_proc(url: str, dashboards: int, consoles: int, poll_s: float, mode: str, dashboard: str,
                  ready, active, stop, q) -> None:
    """Runs in its own process: the viewers' threads (``ready`` once all are
    logged in; they poll while ``active``), results to ``q`` at the end."""
    # the viewers stand for browsers on other machines: on this one, below the gateway
    os.nice(VIEWERS_NICE)
    console = _console if mode == "push" else _viewer
    pages = [(_viewer, dashboard)] * dashboards + [(console, "/api/incidents?limit=50")] * consoles
    out: list[tuple[str, float, int]] = []
    logged: list[str] = []
    halt = threading.Event()
    threads = [threading.Thread(target=fn, args=(url, p, poll_s, poll_s * i / len(pages), active, halt,
                                                 out, logged))
               for i, (fn, p) in enumerate(pages)]
    for t in threads:
        t.start()
    while len(logged) < len(pages) and not stop.is_set():
        time.sleep(0.05)
    ready.set()
    stop.wait()
    halt.set()
    for t in threads:
        t.join(180)
    q.put(out)


class Viewers:
    """The pages, at most ``per_proc`` per process (each page stands for a
    browser on a machine of its own). One process for all 25 keeps the pace
    of the pages (the bench prints each console's reads a second) and takes
    the least CPU from the gateway on this one machine; 5 per process read at
    the same pace and pushed the intake's p99 up (1.9x against 1.0-1.3x)."""

    def __init__(self, ctx, url: str, dashboards: int, consoles: int, poll_s: float, mode: str,
                 per_proc: int = 25, dashboard: str = DASHBOARD) -> None:
        self.active, self.stop, self.q = ctx.Event(), ctx.Event(), ctx.Queue()
        n = max(1, -(-(dashboards + consoles) // per_proc))
        self.procs = []
        for g in range(n):
            ready = ctx.Event()
            d, c = len(range(g, dashboards, n)), len(range(g, consoles, n))
            self.procs.append((ctx.Process(target=_viewers_proc, args=(
                url, d, c, poll_s, mode, dashboard, ready, self.active, self.stop, self.q)), ready))

    def start(self, timeout: float = 180) -> None:
        for p, _ready in self.procs:
            p.start()
        if not all(ready.wait(timeout) for _p, ready in self.procs):
            raise RuntimeError("viewers could not log in")

    def results(self, timeout: float = 240) -> list[tuple[str, float, int]]:
        self.active.clear()
        self.stop.set()
        out = [row for _ in self.procs for row in self.q.get(timeout=timeout)]
        for p, _ready in self.procs:
            p.join(60)
        return out

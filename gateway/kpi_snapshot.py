"""One KPI snapshot shared by every viewer.

Each open dashboard polls ``/api/kpis`` every 3 s; computing the KPIs once
per poll per viewer multiplied the database's work by the number of
screens. Here a snapshot per period asked for (the default "last 30 days",
or an explicit ``since``/``until``) is served to everyone until it is
``max_age_s`` old (counted from the end of its computation, so on a long
history the database rests at least that long between two computations).
A snapshot that took long to compute (a year of a province) is kept
longer: at least ``rest_factor`` times its computation time (default 9;
not when ``max_age_s`` is 0, which means a computation per request),
so the database rests nine tenths of the time however long the history
a viewer asks for. Then the next request recomputes it once (single-flight):
others get the previous snapshot meanwhile, and wait only when there is
none yet, for that one computation rather than one of their own.

Computations run in one worker thread of lower CPU priority (Linux nice
10 for that thread alone): on a busy box the ingest's thread goes first,
so a long history slows the dashboard, never the acks.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Key = Hashable  # e.g. (since, until), or a dashboard period's kind and parameters


WORKER_NICE = 10


def _lower_priority() -> None:
    """Nice this thread only, by WORKER_NICE more than the process (Linux
    applies nice per thread); elsewhere a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + WORKER_NICE))


@dataclass
class _Entry(Generic[T]):
    value: T | None = None
    at: float = float("-inf")  # monotonic time the value's computation ended
    took: float = 0.0  # seconds the last computation took
    running: Future[T] | None = None
    #: the value has been computed at least once
    ready: bool = False


@dataclass
class SnapshotCache(Generic[T]):
    """Values by key, recomputed at most every ``max_age_s`` (0: every call)."""

    max_age_s: float
    max_keys: int = 32
    #: a snapshot stays fresh at least this many times as long as it took to compute
    rest_factor: float = 9.0
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[Key, _Entry[T]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: computations run (for tests and metrics)
    computed: int = 0
    _worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        1, thread_name_prefix="kpi-snapshot", initializer=_lower_priority))

    def get(self, key: Key, compute: Callable[[], T]) -> T:
        with self._lock:
            e = self._entries.get(key)
            if e is None:
                e = self._entries[key] = _Entry()
                while len(self._entries) > self.max_keys:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(key)
            # max age 0: every call computes (as configured); else rest a multiple of the last run
            keep = max(self.max_age_s, self.rest_factor * e.took) if self.max_age_s > 0 else 0.0
            if e.ready and self.clock() - e.at < keep:
                return e.value  # type: ignore[return-value]
            running = e.running
            if running is not None and e.ready:
                return e.value  # type: ignore[return-value]  # being refreshed: the last one
            mine = running is None
            if mine:
                running = e.running = Future()
        if not mine:
            return running.result()  # type: ignore[union-attr]  # the first one: wait for it
        start = self.clock()
        try:
            value = self._worker.submit(compute).result()
        except BaseException as exc:
            with self._lock:
                e.running = None
            running.set_exception(exc)  # type: ignore[union-attr]
            raise
        with self._lock:
            end = self.clock()
            e.value, e.at, e.took, e.ready, e.running = value, end, end - start, True, None
            self.computed += 1
        running.set_result(value)  # type: ignore[union-attr]
        return value

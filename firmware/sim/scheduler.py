"""A tiny timer thread for the simulator (rings, alerting, boot delays).

One thread for all timers, so cancelling a ring cycle is a set insert and
the simulator never leaves stray ``threading.Timer`` threads behind.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    """One thread running callbacks at given times; jobs can be cancelled."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="sim-sched", daemon=True)
        self._thread.start()

    def later(self, delay: float, fn: Callable[[], None]) -> int:
        with self._cv:
            job = next(self._seq)
            heapq.heappush(self._heap, (time.monotonic() + delay, job, fn))
            self._cv.notify()
            return job

    def cancel(self, job: int | None) -> None:
        if job is not None:
            with self._cv:
                self._cancelled.add(job)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stop:
                    return
                _, job, fn = heapq.heappop(self._heap)
                if job in self._cancelled:
                    self._cancelled.discard(job)
                    continue
            try:
                fn()
            except Exception:
                log.exception("simulator job failed")

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=2)

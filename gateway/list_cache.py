"""One case list shared by every console that asks the same question.

Each open console re-reads ``GET /api/incidents`` on every pushed case
event (and every 3 s while its event stream is down). With twenty consoles
a burst of presses became twenty identical list queries, each serialised to
JSON, per case: CPU the ingest's thread then waited for, so the acks the
boxes wait for slowed down with every screen opened.

Here a list (its JSON body) is computed once per question and served to
everyone asking the same question, until this process commits any write
(``Database.generation`` moves: read-your-writes holds within an instance)
or the entry is ``max_age_s`` old (what another instance wrote shows up
within that time, as it did with the consoles' fallback poll). Concurrent
askers wait for the one computation in flight (single-flight) rather than
each running their own.

How each request was answered (queried or shared) goes to ``on_answer``
(the gateway's ``siaga_gateway_list_reads_total``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass
class _Flight:
    generation: int
    done: threading.Event = field(default_factory=threading.Event)
    body: bytes | None = None


@dataclass
class _Entry:
    body: bytes
    generation: int
    at: float


class ListCache:
    """JSON bodies by question, valid for one write generation and ``max_age_s``."""

    def __init__(self, max_age_s: float, generation: Callable[[], int], *, max_keys: int = 64,
                 on_answer: Callable[[bool], None] | None = None) -> None:
        self.max_age_s = max_age_s
        self.on_answer = on_answer  # called with True when computed, False when shared (metrics)
        self._generation = generation
        self._max_keys = max_keys
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self.computed = 0  # lists actually queried (tests, metrics)
        self.served = 0  # lists answered, from the cache or not

    def get(self, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        """The body for ``key``: cached, joined to one in flight, or computed."""
        if self.max_age_s <= 0:
            self.served += 1
            self.computed += 1
            self._answered(True)
            return compute()
        while True:
            with self._lock:
                self.served += 1
                gen = self._generation()
                e = self._entries.get(key)
                if e is not None and e.generation == gen and time.monotonic() - e.at < self.max_age_s:
                    self._entries.move_to_end(key)
                    self._answered(False)
                    return e.body
                flight = self._flights.get(key)
                # join a computation only if it began after the last commit
                leader = flight is None or flight.generation != gen
                if leader:
                    flight = self._flights[key] = _Flight(gen)
            assert flight is not None
            if leader:
                return self._lead(key, gen, flight, compute)
            flight.done.wait(30)
            if flight.body is not None:
                self._answered(False)
                return flight.body
            self.served -= 1  # the leader failed: ask again (one of us leads next)

    def _answered(self, computed: bool) -> None:
        if self.on_answer is not None:
            self.on_answer(computed)

    def _lead(self, key: Hashable, gen: int, flight: _Flight, compute: Callable[[], bytes]) -> bytes:
        try:
            # ``gen`` was read before the query: a commit during it makes the
            # entry stale at once, never hides the commit
            body = compute()
            self._answered(True)
            flight.body = body
            with self._lock:
                self.computed += 1
                old = self._entries.get(key)
                if old is None or old.generation <= gen:  # never replace a newer one
                    self._entries[key] = _Entry(body, gen, time.monotonic())
                    self._entries.move_to_end(key)
                while len(self._entries) > self._max_keys:
                    self._entries.popitem(last=False)
            return body
        finally:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()

"""Drain the outbox: in order, a bounded window in flight, resend until acked.

Why our own window and not paho's queue: paho keeps its session in memory
and restarts message ids on reconnect; only the gateway's ack for our own
id (the ULID of the record) proves an item is stored. Items are sent oldest
first; an item unacked after ``ack_timeout_s`` is resent with exponential
backoff and jitter. A disconnect forgets what was in flight so that the next
connection resends it, in order, before anything newer.

The wait is bounded: an unacked item is re-sent at most
``ack_timeout_s + retry_max_s`` after its previous send, however long the
gateway was away (:meth:`Outbox.resend_bound_s`), so an incident stranded on
a dead gateway comes back within a known time once a gateway is up again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from firmware.agent.store import OutboxItem, Store

log = logging.getLogger(__name__)


@dataclass
class _InFlight:
    item: OutboxItem
    sent_at: float
    tries: int


class Outbox:
    """Sender side of the transactional outbox (main-loop thread only)."""

    def __init__(self, store: Store, publish: Callable[[OutboxItem], bool], *, window: int = 32,
                 ack_timeout_s: float = 10.0, retry_base_s: float = 1.0, retry_max_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.publish = publish
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.clock = clock
        self.inflight: dict[str, _InFlight] = {}
        self.tries: dict[str, int] = {}  # id -> resends so far (backoff state)
        self.not_before: dict[str, float] = {}  # id -> earliest resend time
        self.sent = 0
        self.resent = 0
        self.delivered = 0
        self.rejected = 0

    def backoff(self, tries: int) -> float:
        """Exponential with jitter in the upper half: ~base*2^n, capped at
        ``retry_max_s`` (the exponent too: after ~1,000 re-sends, a day and
        a half without a gateway, 2**n would no longer fit in a float)."""
        exp = min(max(0, tries - 1), 60)
        base = min(self.retry_max_s, self.retry_base_s * (2 ** exp))
        return base * (0.5 + random.random() / 2)

    def resend_bound_s(self) -> float:
        """Longest time between two sends of one unacked item while connected."""
        return self.ack_timeout_s + self.retry_max_s

    def on_disconnect(self) -> None:
        """Everything in flight may be lost: send it again on the next link."""
        self.inflight.clear()
        self.not_before.clear()

    def pump(self, connected: bool) -> int:
        """Send what the window allows; returns how many were published."""
        if not connected:
            return 0
        now = self.clock()
        # ack timeouts: free the slot, schedule a resend with backoff
        for msg_id, f in list(self.inflight.items()):
            if now - f.sent_at >= self.ack_timeout_s:
                del self.inflight[msg_id]
                tries = self.tries.get(msg_id, 0) + 1
                self.tries[msg_id] = tries
                self.not_before[msg_id] = now + self.backoff(tries)
                log.info("no ack for %s after %.1fs, resend #%d", msg_id, self.ack_timeout_s, tries)
        room = self.window - len(self.inflight)
        if room <= 0:
            return 0
        # in order: stop at the first item still waiting out its backoff, so
        # nothing newer overtakes it
        items = self.store.pending(room + len(self.not_before), exclude=self.inflight.keys())
        sent: list[str] = []
        for item in items:
            if len(sent) >= room:
                break
            wait = self.not_before.get(item.id)
            if wait is not None and wait > now:
                break
            if not self.publish(item):
                break  # the link refused: try again next tick
            self.not_before.pop(item.id, None)
            self.inflight[item.id] = _InFlight(item, now, self.tries.get(item.id, 0))
            if item.id in self.tries:
                self.resent += 1
            self.sent += 1
            sent.append(item.id)
        if sent:
            self.store.note_attempt(sent)
        return len(sent)

    def on_ack(self, stored: list[tuple[str, str | None]], rejected: list[tuple[str, str]]
               ) -> list[tuple[str, str]]:
        """Apply a gateway ack; returns (kind, id) newly delivered."""
        done = self.store.mark_delivered(stored) if stored else []
        for msg_id, _case in stored:
            self.inflight.pop(msg_id, None)
            self.tries.pop(msg_id, None)
            self.not_before.pop(msg_id, None)
        for msg_id, reason in rejected:
            if self.store.mark_rejected(msg_id, reason):
                self.rejected += 1
                log.warning("gateway rejected %s: %s", msg_id, reason)
            self.inflight.pop(msg_id, None)
            self.tries.pop(msg_id, None)
            self.not_before.pop(msg_id, None)
        self.delivered += len(done)
        return done

    def next_deadline(self) -> float | None:
        """When the pump next has something to do by itself (timeouts, backoff)."""
        times = [f.sent_at + self.ack_timeout_s for f in self.inflight.values()]
        times += list(self.not_before.values())
        return min(times) if times else None

    def flush(self) -> None:
        """`flush_outbox`: forget backoff waits and send everything now."""
        self.not_before.clear()
        self.inflight.clear()

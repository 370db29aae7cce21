"""In-process broadcaster of case changes to the consoles (server-sent events).

Why in-process: the ingest thread and the API handlers run in this process
and call :meth:`Broadcaster.publish` after their commit; each connected
console has a small asyncio queue on the HTTP server's loop. A console that
falls behind (full queue) gets a ``resync`` instead of unbounded memory.
Other gateway processes' changes arrive through ``gateway.event_feed``
(over the broker): :meth:`Broadcaster.publish` hands each local event to
``forward``, and the feed hands the others' to :meth:`Broadcaster.deliver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

QUEUE_MAX = 100
HEARTBEAT_S = 15.0
_END = ""  # put in a console's queue when the gateway stops: its stream ends


class Broadcaster:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()
        self.published = 0
        self.closed = False
        #: set by the gateway: each local event to the other processes (gateway.event_feed)
        self.forward: Callable[[str, dict[str, Any]], None] | None = None

    @property
    def listeners(self) -> int:
        return len(self._subs)

    def close(self) -> None:
        """End every open stream (thread-safe). Why: a stopping HTTP server waits
        for its open responses, and an event stream never ends by itself; the
        browsers reconnect (``retry``) to whichever gateway serves next."""
        with self._lock:
            self.closed = True
            subs = list(self._subs)
        for loop, q in subs:
            with contextlib.suppress(RuntimeError):  # that loop already closed
                loop.call_soon_threadsafe(_end, q)

    def publish(self, kind: str, **data: Any) -> None:
        """Thread-safe: tell every console (e.g. ``publish("case", id=...)``),
        this process's and, through ``forward``, the other processes'."""
        self.deliver(kind, **data)
        if self.forward is not None:
            self.forward(kind, data)

    def deliver(self, kind: str, **data: Any) -> None:
        """Thread-safe: tell this process's consoles only."""
        line = f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
        self.published += 1
        with self._lock:
            subs = list(self._subs)
        for loop, q in subs:
            try:
                loop.call_soon_threadsafe(_offer, q, line)
            except RuntimeError:  # the loop closed: that console is gone
                with self._lock:
                    self._subs.discard((loop, q))

    async def stream(self, is_disconnected: Any) -> AsyncIterator[str]:
        """The SSE body for one console, until it disconnects."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[str] = asyncio.Queue(QUEUE_MAX)
        sub = (loop, q)
        with self._lock:
            self._subs.add(sub)
        try:
            yield "retry: 2000\nevent: hello\ndata: {}\n\n"
            while not self.closed and not await is_disconnected():
                try:
                    line = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    line = ": keep-alive\n\n"
                if line is _END:
                    return
                yield line
        finally:
            with self._lock:
                self._subs.discard(sub)


def _end(q: asyncio.Queue[str]) -> None:
    while not q.empty():
        q.get_nowait()
    q.put_nowait(_END)


def _offer(q: asyncio.Queue[str], line: str) -> None:
    if q.full():  # a slow console: drop what it has, tell it to reload the list
        while not q.empty():
            q.get_nowait()
        q.put_nowait("event: resync\ndata: {}\n\n")
        return
    q.put_nowait(line)

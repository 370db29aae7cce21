"""systemd readiness and watchdog (``sd_notify``) without a dependency.

``READY=1`` once HTTP serves and MQTT is subscribed; ``WATCHDOG=1`` every
half ``WATCHDOG_USEC`` while the ingest, dispatcher and SLA threads are alive,
so a wedged gateway is restarted by systemd (``Type=notify``,
``WatchdogSec=``). Without ``NOTIFY_SOCKET`` (not under systemd) it is a no-op.
The datagram itself is :func:`protocol.sdnotify.notify`, shared with the unit agent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from protocol.sdnotify import notify

__all__ = ["Watchdog", "notify"]


class Watchdog:
    """Pings systemd while ``healthy()`` is true."""

    def __init__(self, healthy: Callable[[], bool]) -> None:
        self.healthy = healthy
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        self.interval = usec / 2e6 if usec > 0 else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval is None or not os.environ.get("NOTIFY_SOCKET"):
            return
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            if self.healthy():
                notify("WATCHDOG=1")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

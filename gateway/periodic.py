"""A worker thread that does one pass every period until stopped; the
watches that run as singleton roles (gateway.roles) are these, so they can
be stopped and started again as the role leaves and comes back."""

from __future__ import annotations

import threading


class Periodic:
    name = "periodic"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def period_s(self) -> float:
        raise NotImplementedError

    def tick(self) -> None:
        """One pass; must not raise (log and carry on: the next pass retries)."""
        raise NotImplementedError

    def start(self) -> None:
        self._stop.clear()  # restartable
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s()):
            self.tick()

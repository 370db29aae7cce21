"""Sends the flagged-number list to every panel (retained ``FlagList``).

Why a loop and not a publish at each change: a first flag also ends by
itself (expiry), a panel may be registered later, and another gateway
instance may have made the flag. Every ``period_s`` (or when woken) the
list's version is computed; each panel that has not had this version gets
the whole list, retained, so a panel that was offline or restarts finds it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from gateway import flags
from gateway.clock import utcnow
from gateway.store.db import Database
from gateway.store.models import Device
from protocol.codec import encode
from protocol.reports import MAX_FLAGS, FlaggedEntry, FlagList
from protocol.topics import DeviceTopic, device_topic

log = logging.getLogger("gateway.flag_sync")

Publish = Callable[[str, bytes], None]


class FlagSync:
    def __init__(self, db: Database, publish: Publish, *, period_s: float = 2.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.publish = publish
        self.period_s = period_s
        self.clock = clock
        self.wake = threading.Event()
        self.sent: dict[str, int] = {}  # panel -> version it was sent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> FlagList:
        now = self.clock()
        with self.db.read_session() as s:
            rows = flags.active(s, now)[:MAX_FLAGS]
            return FlagList(version=flags.version(s, now), issued_at=now,
                            numbers=[FlaggedEntry(number=r.number, until=r.expires_at) for r in rows])

    def sync_once(self) -> int:
        """Publish to every panel behind; returns how many were sent."""
        doc = self.current()
        with self.db.read_session() as s:
            panels = list(s.scalars(select(Device.id).where(Device.profile == "panel",
                                                            Device.enabled.is_(True))))
        payload = encode(doc)
        n = 0
        for panel in panels:
            if self.sent.get(panel) == doc.version:
                continue
            try:
                self.publish(device_topic(panel, DeviceTopic.FLAGS), payload)
            except (ConnectionError, TimeoutError) as exc:
                log.warning("Daftar nomor ditandai tidak terkirim / flag list not sent to %s: %s", panel, exc)
                continue
            self.sent[panel] = doc.version
            n += 1
        return n

    def start(self) -> FlagSync:
        self._thread = threading.Thread(target=self._run, name="flag-sync", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
            except Exception:  # the database may be down: try again next period
                log.exception("flag sync failed")
            self.wake.wait(self.period_s)
            self.wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(5)

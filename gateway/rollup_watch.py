"""Keeps the KPI rollups fresh when nobody looks at the dashboard.

Why: a dashboard read refreshes a few dirty days after answering, but a site
whose mayor looks once a month would pile up dirty days (on PostgreSQL the
``kpi_dirty`` marks grow with every write) and make that first look slow.
This watch refreshes every ``gateway.rollup_refresh_s`` on one instance of
the site (the ``rollups`` role), a bounded number of days per pass, never
waiting for the intake's write lock.
"""

from __future__ import annotations

import logging
import threading

from gateway import kpi_rollup
from gateway.store.db import Database

log = logging.getLogger(__name__)


class RollupWatch:
    def __init__(self, db: Database, tz_name: str, period_s: float) -> None:
        self.db, self.tz_name, self.period_s = db, tz_name, period_s
        self.passes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()  # restartable: the role may come back (gateway.roles)
        self._thread = threading.Thread(target=self._run, name="rollup-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            kpi_rollup.refresh_db(self.db, self.tz_name)  # logs its own failures
            self.passes += 1

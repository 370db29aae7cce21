"""Keeps the KPI rollups fresh when nobody looks at the dashboard.

Why: a dashboard read refreshes a few dirty days after answering, but a site
whose mayor looks once a month would pile up dirty days (on PostgreSQL the
``kpi_dirty`` marks grow with every write) and make that first look slow.
This watch refreshes every ``gateway.rollup_refresh_s`` on one instance of
the site (the ``rollups`` role), a bounded number of days per pass, never
waiting for the intake's write lock.
"""

from __future__ import annotations

from gateway import kpi_rollup
from gateway.periodic import Periodic
from gateway.store.db import Database


class RollupWatch(Periodic):
    name = "rollup-watch"

    def __init__(self, db: Database, tz_name: str, period_s: float) -> None:
        super().__init__()
        self.db, self.tz_name, self.every_s = db, tz_name, period_s
        self.passes = 0

    def period_s(self) -> float:
        return self.every_s

    def tick(self) -> None:
        kpi_rollup.refresh_db(self.db, self.tz_name)  # logs its own failures
        self.passes += 1

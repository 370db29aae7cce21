"""Keeps the KPI rollups fresh when nobody looks at the dashboard.

Why: a dashboard read refreshes a few dirty days after answering, but a site
whose mayor looks once a month would pile up dirty days (on PostgreSQL the
``kpi_dirty`` marks grow with every write) and make that first look slow.
This watch refreshes every ``gateway.rollup_refresh_s`` on one instance of
the site (the ``rollups`` role), never waiting for the intake's write lock.
A backlog (a bulk load, a long stop, a web process whose dashboards do not
refresh: ``siaga gateway --web-only``) is caught up a few days per pass, a pass
every ``CATCH_UP_S``, so no single write transaction holds the lock long.
"""

from __future__ import annotations

from gateway import kpi_rollup
from gateway.periodic import Periodic
from gateway.store.db import Database

CATCH_UP_S = 0.5
#: dirty UTC days that are normal while cases come in (today, and yesterday's
#: late parts); more than this is a backlog to catch up
USUAL_DIRTY = 2


class RollupWatch(Periodic):
    name = "rollup-watch"

    def __init__(self, db: Database, tz_name: str, period_s: float) -> None:
        super().__init__()
        self.db, self.tz_name, self.every_s = db, tz_name, period_s
        self.passes = 0
        self.behind = False

    def start(self) -> None:
        self.behind = self._backlog()
        super().start()

    def period_s(self) -> float:
        return CATCH_UP_S if self.behind else self.every_s

    def tick(self) -> None:
        # newest first: today and yesterday (dirty again at once while cases come in) and one more
        kpi_rollup.refresh_db(self.db, self.tz_name,
                              max_days=USUAL_DIRTY + 1 if self.behind else kpi_rollup.REFRESH_DAYS)
        self.passes += 1  # refresh_db logs its own failures
        self.behind = self._backlog()

    def _backlog(self) -> bool:
        try:
            with self.db.read_session() as s:
                return kpi_rollup.dirty_days(s) > USUAL_DIRTY
        except Exception:  # the database is away: the next pass looks again
            return False

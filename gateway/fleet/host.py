"""The fleet wing running in the gateway process.

Why here: the site's admins use the same login and pages as everyone else,
the fleet's state is in the gateway's database, and one process per site
runs the health watch (the gateway's ``fleet`` role). Enabled by
``gateway.fleet_config`` naming the site's ``central.yaml``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from gateway.fleet.context import Fleet
from gateway.fleet.service import FleetService
from gateway.fleet.settings import load_fleet_settings
from gateway.store.db import Database

log = logging.getLogger("gateway.fleet")


class FleetHost:
    """The fleet's services over the gateway's database, its watch, its API."""

    def __init__(self, config_path: Path, db: Database) -> None:
        self.fleet = Fleet(load_fleet_settings(config_path), db)
        self.service = FleetService(self.fleet.db, self.fleet.registry, self.fleet.settings)

    def mount(self, app: FastAPI) -> None:
        """``/api/devices/{id}/...`` and ``/api/fleet/...``: admins and
        supervisors read, admins act."""
        from gateway.api.deps import require
        from gateway.auth import Role
        from gateway.fleet.api import admin_writes, make_router

        guard: Any = Depends(require(Role.ADMIN, Role.SUPERVISOR))
        app.include_router(make_router(self.fleet, service=self.service, write_guard=admin_writes()),
                           dependencies=[guard])

    def start(self) -> None:
        self.service.start()
        log.info("Pengawas armada aktif / fleet watch running")

    def stop_watch(self) -> None:
        """Stop the watch only (the "fleet" role moved away); the API stays."""
        self.service.stop()

    def stop(self) -> None:
        self.service.stop()

"""The fleet side (``central``) hosted in the gateway process.

Why here: the site's admins use the same login and pages as everyone else,
and one process per site runs the health watch (two watches would record
every fault episode twice). Enabled by ``gateway.fleet_config`` naming the
site's ``central.yaml``; without it the gateway runs without fleet pages and
``siaga admin watch`` can run the watch on its own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

log = logging.getLogger("gateway.fleet")


class FleetHost:
    """Opens central's context, runs its FleetService, mounts its API."""

    def __init__(self, config_path: Path, db: Any) -> None:
        from central.context import Central
        from central.db import Database as CentralDatabase
        from central.gateway_registry import GatewayRegistry
        from central.service import FleetService
        from central.settings import load_settings

        settings = load_settings(config_path)
        # the registry is this gateway's own devices table, through its own engine
        self.central = Central(settings, CentralDatabase(settings.db_path), GatewayRegistry.sharing(db),
                               actor="gateway")
        self.service = FleetService(self.central.db, self.central.registry, self.central.settings)

    def mount(self, app: FastAPI) -> None:
        """``/api/fleet/...`` for admins and supervisors (read and act)."""
        from central.api import make_router
        from gateway.api.deps import require
        from gateway.auth import Role

        guard: Any = Depends(require(Role.ADMIN, Role.SUPERVISOR))
        app.include_router(make_router(self.central, service=self.service), dependencies=[guard])

    def start(self) -> None:
        self.service.start()
        log.info("Pengawas armada aktif / fleet watch running")

    def stop_watch(self) -> None:
        """Stop the watch only (the "fleet" role moved away); the API stays."""
        self.service.stop()

    def stop(self) -> None:
        self.service.stop()
        self.central.close()

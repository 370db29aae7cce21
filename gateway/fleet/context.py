"""The fleet wing's services over one database, for the API, the watch and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gateway.fleet.commands import CommandService
from gateway.fleet.desired import ConfigService
from gateway.fleet.groups import Groups
from gateway.fleet.health import HealthWatch
from gateway.fleet.notify import make_notifier
from gateway.fleet.registry import Device, Registry
from gateway.fleet.rollout import RolloutService
from gateway.fleet.settings import FleetSettings
from gateway.fleet.sql import FleetDB, iso
from gateway.fleet.table import device_rows
from gateway.store.db import Database
from gateway.store.models import Device as DeviceRow


@dataclass
class Fleet:
    settings: FleetSettings
    gdb: Database
    db: FleetDB = field(init=False)
    registry: Registry = field(init=False)
    groups: Groups = field(init=False)
    config: ConfigService = field(init=False)
    commands: CommandService = field(init=False)
    health: HealthWatch = field(init=False)
    rollouts: RolloutService = field(init=False)

    def __post_init__(self) -> None:
        self.db = FleetDB(self.gdb)
        self.registry = Registry(self.gdb)
        self.groups = Groups(self.db)
        self.config = ConfigService(self.db)
        self.commands = CommandService(self.db)
        self.rollouts = RolloutService(self.db, self.commands)
        self.health = HealthWatch(self.db, self.config, self.settings.health,
                                  make_notifier(self.settings.notifier))

    def device_rows(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        """The fleet table (the same rows as ``GET /api/devices``), timestamps
        as ISO text for the CLI's JSON and tables."""
        with self.gdb.read_session() as s:
            q = select(DeviceRow).order_by(DeviceRow.id)
            if ids is not None:
                q = q.where(DeviceRow.id.in_(ids))
            rows = device_rows(s, s.scalars(q).all())
        for r in rows:
            for k, v in r.items():
                if isinstance(v, datetime):
                    r[k] = iso(v)
        return rows

    def device_row(self, d: Device) -> dict[str, Any]:
        """One line of the fleet table."""
        return self.device_rows([d.id])[0]

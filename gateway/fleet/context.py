"""The fleet wing's services over one database, for the API, the watch and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.fleet.commands import CommandService
from gateway.fleet.desired import ConfigService
from gateway.fleet.groups import Groups
from gateway.fleet.health import HealthWatch
from gateway.fleet.notify import make_notifier
from gateway.fleet.registry import Device, Registry
from gateway.fleet.rollout import RolloutService
from gateway.fleet.settings import FleetSettings
from gateway.fleet.sql import FleetDB
from gateway.store.db import Database


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

    def device_row(self, d: Device) -> dict[str, Any]:
        """One line of the fleet table (CLI ``devices``, API list)."""
        p = self.health.presence(d.id) or {}
        tel = p.get("telemetry") or {}
        return {
            "id": d.id,
            "profile": d.profile.value,
            "enabled": d.enabled,
            "revoked": self.groups.is_revoked(d.id),
            "online": bool(p.get("online")),
            "last_seen": p.get("last_seen"),
            "status_reason": p.get("status_reason"),
            "signal_dbm": tel.get("signal_dbm"),
            "outbox_depth": tel.get("outbox_depth"),
            "firmware": tel.get("firmware") or p.get("firmware"),
            "update": tel.get("update"),
            "faults": [f["fault"] for f in self.health.open_faults(d.id)],
            "config": self.config.drift(d.id).state,
            "groups": self.groups.groups_of(d.id),
            "location": d.location.model_dump(exclude_none=True, exclude={"v"}) if d.location else None,
        }

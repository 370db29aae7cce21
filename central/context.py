"""Everything a CLI command or an API request needs, built from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from central.commands import CommandService
from central.db import Database
from central.desired import ConfigService
from central.errors import StateMissing
from central.health import HealthWatch
from central.notify import make_notifier
from central.provision import Provisioner
from central.registry import Device, Registry, open_registry
from central.release.rollout import RolloutService
from central.settings import CentralSettings


@dataclass
class Central:
    settings: CentralSettings
    db: Database
    registry: Registry
    prov: Provisioner = field(init=False)
    config: ConfigService = field(init=False)
    commands: CommandService = field(init=False)
    health: HealthWatch = field(init=False)
    rollouts: RolloutService = field(init=False)

    actor: str | None = None

    def __post_init__(self) -> None:
        self.prov = Provisioner(self.db, self.registry, self.settings, actor=self.actor)
        self.config = ConfigService(self.db)
        self.commands = CommandService(self.db)
        self.rollouts = RolloutService(self.db, self.commands)
        self.health = HealthWatch(self.db, self.config, self.settings.health,
                                  make_notifier(self.settings.notifier))

    @classmethod
    def open(cls, settings: CentralSettings, *, actor: str | None = None,
             create: bool = True) -> Central:
        """``create=False`` (read-only commands): a missing database file is
        :class:`StateMissing`, not a new empty file. The gateway's registry is
        checked first, so a refused command leaves no ``central.db`` behind."""
        registry = open_registry(None, settings.gateway_db_url) if settings.gateway_db_url else None
        try:
            if not create and not settings.db_path.exists():
                raise StateMissing(f"basis data pusat belum ada / central database does not exist: "
                                   f"{settings.db_path}")
            db = Database(settings.db_path)
        except BaseException:
            if registry is not None:
                registry.close()  # type: ignore[attr-defined]
            raise
        return cls(settings, db, registry or open_registry(db), actor=actor)

    def close(self) -> None:
        close = getattr(self.registry, "close", None)
        if close:
            close()
        self.db.close()

    def device_row(self, d: Device) -> dict[str, Any]:
        """One line of the fleet table (CLI ``devices``, API list)."""
        p = self.health.presence(d.id) or {}
        tel = p.get("telemetry") or {}
        return {
            "id": d.id,
            "profile": d.profile.value,
            "enabled": d.enabled,
            "revoked": self.prov.is_revoked(d.id),
            "online": bool(p.get("online")),
            "last_seen": p.get("last_seen"),
            "status_reason": p.get("status_reason"),
            "signal_dbm": tel.get("signal_dbm"),
            "outbox_depth": tel.get("outbox_depth"),
            "firmware": tel.get("firmware") or p.get("firmware"),
            "update": tel.get("update"),
            "self_test": tel.get("self_test"),
            "faults": [f["fault"] for f in self.health.open_faults(d.id)],
            "config": self.config.drift(d.id).state,
            "groups": self.prov.groups_of(d.id),
            "location": d.location.model_dump(exclude_none=True, exclude={"v"}) if d.location else None,
        }

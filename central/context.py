"""Everything a ``siaga admin`` command needs: the fleet wing over the
gateway's database (the same code the gateway runs) plus the provisioner,
which writes the broker's files and the SD-card bundles on the admin host."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from central.provision import Provisioner
from central.settings import CentralSettings
from gateway.fleet.context import Fleet
from gateway.fleet.errors import BadSetting
from gateway.fleet.registry import open_gateway_db
from gateway.store.db import Database


@dataclass
class Central:
    settings: CentralSettings
    gdb: Database
    actor: str | None = None
    fleet: Fleet = field(init=False)
    prov: Provisioner = field(init=False)

    def __post_init__(self) -> None:
        self.fleet = Fleet(self.settings, self.gdb)
        self.prov = Provisioner(self.fleet, self.settings, actor=self.actor)

    # the fleet's services, by their old names (CLI, tests)
    @property
    def db(self) -> Any:
        return self.fleet.db

    @property
    def registry(self) -> Any:
        return self.fleet.registry

    @property
    def config(self) -> Any:
        return self.fleet.config

    @property
    def commands(self) -> Any:
        return self.fleet.commands

    @property
    def health(self) -> Any:
        return self.fleet.health

    @property
    def rollouts(self) -> Any:
        return self.fleet.rollouts

    def device_row(self, d: Any) -> dict[str, Any]:
        return self.fleet.device_row(d)

    @classmethod
    def open(cls, settings: CentralSettings, *, actor: str | None = None,
             migrate: bool = False) -> Central:
        """Over the gateway's database (``gateway_db_url``), which is never
        created here: a missing or unmigrated one is an error that says
        to run ``siaga gateway migrate`` (``migrate``: tests, first install)."""
        if not settings.gateway_db_url:
            raise BadSetting("gateway_db_url belum diisi / not set: the fleet's state lives in the "
                             "gateway's database; name it in central.yaml")
        return cls(settings, open_gateway_db(settings.gateway_db_url, migrate=migrate), actor=actor)

    def close(self) -> None:
        self.gdb.dispose()

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

    def __getattr__(self, name: str) -> Any:
        """The fleet's services by their names (``db``, ``registry``, ``config``,
        ``commands``, ``health``, ``rollouts``, ``device_row`` ...)."""
        if name == "fleet":  # not built yet
            raise AttributeError(name)
        return getattr(self.fleet, name)

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

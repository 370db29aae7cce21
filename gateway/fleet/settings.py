"""The part of ``central.yaml`` the fleet wing uses, checked strictly.

``central.yaml`` is one file for the site's fleet: ``siaga admin`` validates
all of it (``central.settings.CentralSettings`` extends :class:`FleetSettings`
with the admin host's sections: broker files, bundles, reload), the gateway
validates the sections it uses and leaves the admin host's sections to
``siaga admin`` (:data:`ADMIN_HOST_KEYS`); any other key is an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.fleet.errors import BadSetting
from protocol.configfile import ConfigFileError, config_path, load_model, secret_path
from protocol.mqtt import BrokerSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthSettings(_Strict):
    """Thresholds of the health watch."""

    heartbeat_default_s: int = Field(60, ge=5, le=3600, title="Heartbeat interval assumed "
                                     "when a unit's desired config does not set one")
    late_factor: float = Field(2.5, ge=1.0, le=20, title="Offline after this many missed "
                               "heartbeat intervals")
    weak_signal_dbm: int = Field(-105, ge=-130, le=0, title="Weak signal below this")
    outbox_max: int = Field(50, ge=1, title="Outbox depth above which it counts as growing")
    outbox_rising_beats: int = Field(
        5, ge=2, le=100, title="Growing outbox: heartbeats in a row with a rising depth",
        description="Also a fault when the depth rose on this many heartbeats in a row (the unit "
                    "cannot deliver); it closes once the depth is back to half of what it was")
    storage_min_mb: float = Field(50.0, ge=0, title="Free storage below which it is low")
    tick_s: float = Field(1.0, gt=0, le=60, title="How often lateness is checked")


class NotifierSettings(_Strict):
    """Where fault and recovery notices go (once per episode)."""

    kind: Literal["log", "webhook"] = Field("log", title="Escalation channel")
    url: str | None = Field(None, title="Webhook URL (kind=webhook)")
    timeout_s: float = Field(5.0, gt=0, le=60, title="Webhook timeout")


class FleetSettings(_Strict):
    """The fleet wing's sections of ``central.yaml``."""

    @model_validator(mode="before")
    @classmethod
    def _no_central_db(cls, data: Any) -> Any:
        """``db_path`` named central's own SQLite file, which is gone: say where
        the state lives now instead of a bare "extra inputs" error."""
        if isinstance(data, dict) and "db_path" in data:
            raise ValueError("db_path: central.db tidak dipakai lagi / is no longer used: the fleet's "
                             "state lives in the gateway's database (set gateway_db_url); see "
                             "docs/fleet.md, Upgrading from central.db")
        return data

    broker: BrokerSettings = Field(
        default_factory=lambda: BrokerSettings(username="admin"),
        title="How the fleet's client reaches the broker (commands, desired config)",
    )
    health: HealthSettings = Field(default_factory=HealthSettings, title="Thresholds of the health watch")
    notifier: NotifierSettings = Field(default_factory=NotifierSettings,
                                       title="Where fault and recovery notices go")
    command_timeout_s: float = Field(10.0, gt=0, le=600, title="Default command timeout")
    gateway_db_url: str | None = Field(
        None, title="Gateway database URL: the fleet's state (registry, credentials metadata, "
        "groups, config, commands, faults) lives there; required for `siaga admin`")


#: sections of ``central.yaml`` only the admin host reads (``central.settings``)
ADMIN_HOST_KEYS = frozenset({"site_dir", "bundle_dir", "unit_broker", "mosquitto", "reload", "sms"})


class FleetConfigError(BadSetting, ConfigFileError):
    """``central.yaml`` unreadable or invalid (one ``file:line: key: message`` each)."""


class _HostedFleetSettings(FleetSettings):
    """What the gateway reads of ``central.yaml``: the admin host's sections
    are left for ``siaga admin`` to check (any other unknown key is refused)."""

    site_dir: Any = None
    bundle_dir: Any = None
    unit_broker: Any = None
    mosquitto: Any = None
    reload: Any = None
    sms: Any = None


def load_fleet_settings(path: Path) -> FleetSettings:
    """The fleet's sections of ``central.yaml`` (the gateway hosting the fleet),
    read with the shared kit (:mod:`protocol.configfile`)."""
    hosted = load_model(_HostedFleetSettings, path, error=FleetConfigError, empty_ok=True)
    s = FleetSettings(**{k: getattr(hosted, k) for k in FleetSettings.model_fields
                         if k in hosted.model_fields_set})
    base = path.absolute().parent
    if s.broker.password_file is not None:
        s.broker.password_file = secret_path(s.broker.password_file, base)
    if s.broker.ca_file is not None:
        s.broker.ca_file = config_path(s.broker.ca_file, base)
    return s

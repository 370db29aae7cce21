"""The part of ``central.yaml`` the fleet wing uses, checked strictly.

``central.yaml`` is one file for the site's fleet: ``siaga admin`` validates
all of it (``central.settings.CentralSettings`` extends :class:`FleetSettings`
with the admin host's sections: broker files, bundles, reload), the gateway
validates the sections it uses and leaves the admin host's sections to
``siaga admin`` (:data:`ADMIN_HOST_KEYS`); any other key is an error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.fleet.errors import BadSetting
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


def describe(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in err.errors()
    )


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BadSetting(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise BadSetting(f"{path}: top level must be a mapping")
    return data


def refuse_old_keys(path: Path, data: dict) -> None:
    """``db_path`` named central's own SQLite file, which is gone: say where
    the state lives now instead of a bare "extra inputs" error."""
    if "db_path" in data:
        raise BadSetting(f"{path}: db_path: central.db tidak dipakai lagi / is no longer used: the "
                         "fleet's state lives in the gateway's database (set gateway_db_url); "
                         "see docs/fleet.md, Upgrading from central.db")


def load_fleet_settings(path: Path) -> FleetSettings:
    """The fleet's sections of ``central.yaml`` (the gateway hosting the fleet)."""
    raw = read_yaml(path)
    refuse_old_keys(path, raw)
    data = {k: v for k, v in raw.items() if k not in ADMIN_HOST_KEYS}
    try:
        s = FleetSettings.model_validate(data)
    except ValidationError as exc:
        raise BadSetting(f"{path}: {describe(exc)}") from None
    base = path.absolute().parent
    for key in ("password_file", "ca_file"):
        p = getattr(s.broker, key, None)
        if p is not None and not Path(p).is_absolute():
            setattr(s.broker, key, base / p)
    return s

"""Central's own configuration: one YAML file, checked strictly.

Every section is a pydantic model with ``extra="forbid"`` so a typo in a key
is an error naming the key, not a silently ignored setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from central.broker.mosquitto import BrokerConfig
from gateway.fleet.errors import BadSetting
from gateway.fleet.settings import (  # noqa: F401 - re-exported for the CLI and tests
    FleetSettings,
    HealthSettings,
    NotifierSettings,
)
from protocol.base import MAX_PAYLOAD_BYTES
from protocol.configfile import ConfigFileError, config_path, load_model, secret_path

ENV_CONFIG = "SIAGA_CENTRAL_CONFIG"
DEFAULT_PATH = Path("/etc/siaga/central.yaml")

Access = Literal["read", "write", "readwrite"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReloadSettings(_Strict):
    """How ``reload`` reaches the broker: SIGHUP to the pid in ``pid_file``
    (the broker runs here), or a command (``systemctl reload mosquitto``),
    or nothing (an operator syncs the files and reloads by hand)."""

    pid_file: Path | None = Field(None, title="Mosquitto pid file (SIGHUP target)")
    command: list[str] | None = Field(None, title="Reload command instead of SIGHUP")


class UnitBrokerSettings(_Strict):
    """What a unit's bundle says about reaching the broker (the address
    units see, which may differ from the admin host's)."""

    host: str = Field("broker.siaga.local", title="Broker host as units reach it")
    port: int = Field(8883, ge=1, le=65535, title="Broker port as units reach it")
    tls: bool = Field(True, title="Units use TLS")
    ca_file: Path | None = Field(None, title="CA path on the unit's SD card")
    password_path: Path = Field(
        Path("broker-password"), title="Where the unit reads its broker password",
        description="A bare name is a systemd credential: the unit service loads "
                    "/etc/siaga/broker.password (root-only) with LoadCredential= and the agent, "
                    "running as user siaga, reads $CREDENTIALS_DIRECTORY/broker-password. "
                    "An absolute path is read as is (development only).")


class SiteBrokerConfig(BrokerConfig):
    """The production broker's defaults (the test harness keeps BrokerConfig's)."""

    persistence_dir: Path | None = Field(Path("/var/lib/mosquitto"),
                                         title="Where the broker keeps sessions on disk")
    pid_file: Path | None = Field(Path("/run/mosquitto/mosquitto.pid"), title="Pid file",
                                  description="Written by the broker after it dropped to run_as_user: "
                                  "its folder must be writable by that user (Debian's "
                                  "mosquitto.service creates /run/mosquitto for it)")
    run_as_user: str | None = Field(
        "mosquitto", title="User the broker drops to when started as root",
        description="Written as `user` in mosquitto.conf; passwd and acl are created group-readable "
                    "by this user's group (0640) and keep their owner and mode on every rewrite")
    # the largest payload plus MQTT headers and properties
    max_packet_size: int = Field(2 * MAX_PAYLOAD_BYTES, ge=1024, title="Largest packet accepted")


class UnitSmsSettings(_Strict):
    """The units' SMS fallback: their keys are derived from the site's SMS master secret."""

    master_key_file: Path | None = Field(
        None, title="SMS master secret file",
        description="The same secret as the gateway's `sms.master_key`; unset: bundles get no "
                    "SMS key and units no SMS fallback")
    centre_numbers: list[str] = Field(
        default_factory=list, title="Centre modem numbers",
        description="Written into each bundle's `sms_fallback.numbers`")
    key_path: Path = Field(
        Path("/etc/siaga/sms.key"), title="SMS key path on the unit",
        description="Where the bundle's `sms.key` lands on the SD card")


class CentralSettings(FleetSettings):
    """The whole of ``central.yaml``: the fleet wing's sections plus the admin host's."""

    site_dir: Path = Field(Path("site"), title="Where mosquitto.conf, passwd and acl are written")
    bundle_dir: Path = Field(Path("bundles"), title="Where unit SD-card bundles are written")
    unit_broker: UnitBrokerSettings = Field(default_factory=UnitBrokerSettings,
                                            title="The broker as units reach it (written into bundles)")
    mosquitto: SiteBrokerConfig = Field(
        default_factory=SiteBrokerConfig, title="The site's Mosquitto (what `broker gen-config` writes)")
    reload: ReloadSettings = Field(default_factory=ReloadSettings,
                                   title="How the broker is told to re-read passwd and acl")
    sms: UnitSmsSettings = Field(default_factory=UnitSmsSettings,
                                 title="Units' SMS fallback (key and centre numbers in bundles)")


def load_settings(path: Path | None = None) -> CentralSettings:
    """Settings from ``path``, else ``$SIAGA_CENTRAL_CONFIG``, else
    ``/etc/siaga/central.yaml`` when it exists; no file at all is an error
    naming what was tried and how to point at one (defaults would put a
    database wherever the command happened to run). Read with the
    shared kit (:mod:`protocol.configfile`): ``file:line: key: message``;
    relative paths resolve against the file's folder, a bare secret file
    name is a systemd credential when ``$CREDENTIALS_DIRECTORY`` is set."""
    if path is None and os.environ.get(ENV_CONFIG):
        path = Path(os.environ[ENV_CONFIG])
    if path is None and DEFAULT_PATH.exists():
        path = DEFAULT_PATH
    if path is None:
        raise NoConfig(
            f"Tidak ada berkas konfigurasi / no config file: {DEFAULT_PATH} does not exist, and "
            f"neither --config nor ${ENV_CONFIG} was given.\n"
            f"Tunjuk berkasnya / point at one: siaga admin --config /path/to/central.yaml ... "
            f"(or export {ENV_CONFIG}=/path/to/central.yaml)")
    s = load_model(CentralSettings, path, error=SettingsError, empty_ok=True)
    _absolute(s, path.absolute().parent)
    return s


class NoConfig(BadSetting):
    """No ``central.yaml`` given and none at the default path: nothing is opened or created."""


class SettingsError(BadSetting, ConfigFileError):
    """``central.yaml`` missing, unreadable or invalid (one ``file:line: key: message`` each)."""


#: every path setting (section, key) that is taken relative to the file's folder
_PATHS = [(None, "site_dir"), (None, "bundle_dir"), ("reload", "pid_file"),
          ("broker", "password_file"), ("broker", "ca_file"), ("sms", "master_key_file")] + [
    ("mosquitto", k) for k in ("password_file", "acl_file", "persistence_dir", "log_file", "pid_file",
                               "tls_cert", "tls_key", "tls_ca")]
#: the ones central reads a secret from (a bare name may be a systemd credential)
_SECRETS = {("broker", "password_file"), ("sms", "master_key_file")}


def _absolute(s: CentralSettings, base: Path) -> None:
    """Relative paths resolve against the config file's folder, so what is
    written into generated files (mosquitto.conf) is absolute whatever the
    working directory of `siaga admin -c relative.yaml` was."""
    for section, key in _PATHS:
        obj = getattr(s, section) if section else s
        p = getattr(obj, key)
        if p is not None:
            setattr(obj, key, secret_path(p, base) if (section, key) in _SECRETS else config_path(p, base))
    bridge = s.mosquitto.bridge
    for key in ("password_file", "ca_file"):
        p = getattr(bridge, key) if bridge else None
        if p is not None:
            setattr(bridge, key, config_path(p, base))

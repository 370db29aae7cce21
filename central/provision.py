"""Provisioning: add a unit, give it credentials that speak only for itself,
write its SD-card bundle; disable, enable, revoke, rotate.

A unit's broker user is its device id, so the ACL's ``%u`` patterns confine
it to ``siaga/v1/dev/<id>/`` with no per-unit ACL lines. Only the password
hash is stored; the clear password exists once, in the bundle's credential
file (mode 0600), and is never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from central.broker.passwords import hash_password, new_password
from central.broker.reload import reload_broker
from central.broker.site import write_auth_files
from central.errors import DeviceRevoked
from central.settings import CentralSettings
from gateway.fleet.context import Fleet
from gateway.fleet.registry import Device
from gateway.fleet.sql import iso, utcnow
from protocol.fleet import Profile
from protocol.ids import is_device_id
from protocol.reports import Location

log = logging.getLogger(__name__)

CONFIG_NAME = "unit.yaml"
PASSWORD_NAME = "broker.password"  # noqa: S105 - a file name
SMS_KEY_NAME = "sms.key"


@dataclass(frozen=True, slots=True)
class Bundle:
    """What goes on a unit's SD card (``/etc/siaga/``)."""

    dir: Path
    config: Path
    password: Path


class Provisioner:
    """Registry + credentials + broker files + reload, as one operation each."""

    def __init__(self, fleet: Fleet, settings: CentralSettings, *,
                 actor: str | None = None) -> None:
        self.fleet = fleet
        self.db = fleet.db
        self.registry = fleet.registry
        self.groups = fleet.groups
        self.settings = settings
        #: who acts (recorded with every change); the CLI passes the OS user
        self.actor = actor or "central"

    def _audit(self, device: str, kind: str, detail: str = "") -> None:
        self.groups.audit(device, kind, self.actor, detail)

    # -- broker side -------------------------------------------------------
    def write_files(self) -> None:
        """Rewrite passwd + ACL, readable by the user the broker runs as."""
        write_auth_files(self.db, self.registry, self.settings.site_dir,
                         broker_user=self.settings.mosquitto.run_as_user)

    def apply(self) -> str:
        """Rewrite passwd + ACL and reload the broker; returns what reload did."""
        self.write_files()
        return reload_broker(self.settings.reload)

    def _set_hash(self, user: str, kind: str, password: str, access: str | None = None) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO fleet_credentials (username, kind, hash, access, revoked, updated_at) "
                "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT(username) DO UPDATE SET "
                "hash=excluded.hash, access=excluded.access, revoked=0, updated_at=excluded.updated_at",
                (user, kind, hash_password(password), access, iso(utcnow())),
            )

    # -- units -------------------------------------------------------------
    def add_device(self, device_id: str, *, profile: Profile, location: Location | None = None,
                   groups: list[str] | None = None, reload: bool = True) -> tuple[Device, Bundle]:
        """Register, create credentials, write the bundle, update the broker."""
        device = self.registry.add(device_id, profile=profile, location=location)
        password = new_password()
        self._set_hash(device_id, "unit", password)
        self.set_groups(device_id, groups or [])
        bundle = self.write_bundle(device, password)
        if reload:
            self.apply()
        self._audit(device_id, "provisioned", Profile(profile).value)
        log.info("provisioned device %s (%s)", device_id, profile)
        return device, bundle

    def set_groups(self, device_id: str, groups: list[str]) -> None:
        self.groups.set_groups(device_id, groups)

    def groups_of(self, device_id: str) -> list[str]:
        return self.groups.groups_of(device_id)

    def members(self, group: str) -> list[str]:
        return self.groups.members(group)

    def is_revoked(self, device_id: str) -> bool:
        return self.groups.is_revoked(device_id)

    def disable(self, device_id: str) -> str:
        """Refuse the unit at the broker and the gateway; credentials kept."""
        self.registry.set_enabled(device_id, False)
        self._audit(device_id, "disabled")
        return self.apply()

    def enable(self, device_id: str) -> str:
        self.registry.get(device_id)
        if self.is_revoked(device_id):
            raise DeviceRevoked(
                f"kredensial dicabut, jalankan `device rotate` / credentials revoked, "
                f"run `device rotate`: {device_id}")
        self.registry.set_enabled(device_id, True)
        self._audit(device_id, "enabled")
        return self.apply()

    def revoke(self, device_id: str) -> str:
        """Disable and destroy the credential hash: the SD card's password is
        dead for good; only ``rotate`` (a new bundle) brings the unit back."""
        self.registry.set_enabled(device_id, False)
        with self.db.tx() as c:
            c.execute("UPDATE fleet_credentials SET hash=NULL, revoked=1, updated_at=? WHERE username=?",
                      (iso(utcnow()), device_id))
        self._audit(device_id, "revoked")
        return self.apply()

    def rotate(self, device_id: str) -> Bundle:
        """New password and bundle; re-enables a revoked unit."""
        device = self.registry.get(device_id)
        password = new_password()
        self._set_hash(device_id, "unit", password)
        device = self.registry.set_enabled(device_id, True)
        bundle = self.write_bundle(device, password)
        self._audit(device_id, "credentials_rotated")
        self.apply()
        return bundle

    # -- services (gateway, admin) ------------------------------------------
    def add_service(self, user: str, *, access: str = "readwrite", password: str | None = None,
                    reload: bool = True) -> str:
        """Create or reset a service user; returns its clear password once."""
        if not is_device_id(user):
            raise ValueError(f"nama pengguna tidak sah / invalid user name {user!r}")
        if self.db.one("SELECT 1 FROM fleet_credentials WHERE username=? AND kind='unit'", (user,)):
            raise ValueError(f"{user!r} adalah perangkat / is a device, not a service")
        password = password or new_password()
        self._set_hash(user, "service", password, access)
        if reload:
            self.apply()
        return password

    # -- the SD card bundle --------------------------------------------------
    def write_bundle(self, device: Device, password: str) -> Bundle:
        """``unit.yaml`` (the agent's config) + ``broker.password`` (0600)."""
        ub = self.settings.unit_broker
        doc: dict = {
            "device_id": device.id,
            "profile": device.profile.value,
            "broker": {
                "host": ub.host,
                "port": ub.port,
                "username": device.id,
                "password_file": str(ub.password_path),
                "tls": ub.tls,
            },
        }
        if ub.ca_file:
            doc["broker"]["ca_file"] = str(ub.ca_file)
        if device.location:
            doc["location"] = device.location.model_dump(mode="json", exclude_none=True, exclude={"v"})
        sms_key = self._sms_key(device.id)
        if sms_key is not None:
            doc["sms_fallback"] = {"numbers": list(self.settings.sms.centre_numbers),
                                   "key_file": str(self.settings.sms.key_path)}
        _check_unit_config(doc)
        out = self.settings.bundle_dir / device.id
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o700)
        if sms_key is not None:
            _write_private(out / SMS_KEY_NAME, sms_key.hex())
        cfg = out / CONFIG_NAME
        cfg.write_text("# Siaga 112 unit config, generated by `siaga admin device add`.\n"
                       + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        pw = out / PASSWORD_NAME
        _write_private(pw, password)
        return Bundle(dir=out, config=cfg, password=pw)

    def _sms_key(self, device_id: str) -> bytes | None:
        """The unit's own SMS key (``protocol.smsfallback.device_key``), or None."""
        f = self.settings.sms.master_key_file
        if f is None:
            return None
        from protocol.configfile import read_secret
        from protocol.smsfallback import device_key

        return device_key(read_secret(f).encode(), device_id)


def _write_private(path: Path, text: str) -> None:
    """0600 from the first byte, replaced atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(text + "\n")
    tmp.replace(path)


def _check_unit_config(doc: dict) -> None:
    """Validate against the agent's own config model when it is installed,
    so a bundle that the unit would refuse is never written."""
    try:
        from firmware.agent.config import UnitConfig
    except ImportError:  # pragma: no cover - an admin host without the firmware code
        return
    UnitConfig.model_validate(doc)


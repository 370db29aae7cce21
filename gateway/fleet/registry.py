"""The one device registry: the gateway's ``devices`` table.

A unit disabled here is one the gateway's ingest refuses (it accepts only
registered, enabled devices), on top of the broker refusing its login. The
fleet wing and ``siaga admin`` both go through :mod:`gateway.store.devices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from gateway.errors import DuplicateDevice
from gateway.errors import UnknownDevice as GwUnknown
from gateway.fleet.errors import DeviceExists, RegistryUnavailable, UnknownDevice
from gateway.store import devices
from gateway.store.db import Database, current_revision, head_revision
from gateway.store.models import Device as DeviceRow
from protocol.fleet import Profile
from protocol.reports import Location


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    profile: Profile
    location: Location | None
    enabled: bool
    created_at: datetime | None = None


def _device(d: DeviceRow) -> Device:
    loc = None
    if any(v is not None for v in (d.label, d.area, d.lat, d.lon)):
        loc = Location(label=d.label, area=d.area, lat=d.lat, lon=d.lon)
    return Device(id=d.id, profile=Profile(d.profile), location=loc, enabled=bool(d.enabled),
                  created_at=d.created_at)


def missing_sqlite_file(url: str) -> str | None:
    """The SQLite file ``url`` names when it does not exist (else None)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return None if Path(u.database).exists() else u.database


def open_gateway_db(url: str, *, migrate: bool = False) -> Database:
    """The gateway's database for ``siaga admin``: never created or migrated
    by accident (``migrate`` is for tests and a first install)."""
    missing = missing_sqlite_file(url)
    if missing and not migrate:  # opening it would leave an empty file behind
        raise RegistryUnavailable(
            f"basis data gateway belum dimigrasi / gateway database not migrated (no file "
            f"{missing}): run `siaga gateway migrate` first")
    gdb = Database(url)
    if migrate:
        gdb.migrate()
    elif current_revision(gdb.engine) != head_revision():
        gdb.dispose()
        raise RegistryUnavailable(
            "basis data gateway belum dimigrasi / gateway database not migrated to this version: "
            "run `siaga gateway migrate` first")
    return gdb


class Registry:
    """Add, get, list, enable/disable devices in the gateway's table."""

    def __init__(self, gdb: Database) -> None:
        self.gdb = gdb

    def add(self, device_id: str, *, profile: Profile, location: Location | None = None) -> Device:
        loc = location or Location()
        try:
            with self.gdb.session() as s:
                return _device(devices.add(s, device_id, profile=profile, label=loc.label,
                                           area=loc.area, lat=loc.lat, lon=loc.lon))
        except DuplicateDevice:
            raise DeviceExists(f"perangkat sudah ada / device already exists: {device_id}") from None
        except ValueError as exc:
            raise ValueError(f"id perangkat tidak sah / invalid device id {device_id!r}") from exc

    def get(self, device_id: str) -> Device:
        try:
            with self.gdb.read_session() as s:  # reads never take the gateway's write lock
                return _device(devices.get(s, device_id))
        except GwUnknown:
            raise UnknownDevice(f"perangkat tidak dikenal / unknown device: {device_id}") from None

    def list(self) -> list[Device]:
        with self.gdb.read_session() as s:
            return [_device(d) for d in devices.list_devices(s)]

    def set_enabled(self, device_id: str, enabled: bool) -> Device:
        try:
            with self.gdb.session() as s:
                return _device(devices.set_enabled(s, device_id, enabled))
        except GwUnknown:
            raise UnknownDevice(f"perangkat tidak dikenal / unknown device: {device_id}") from None

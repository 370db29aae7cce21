"""The device registry behind a small interface.

The registry is what the gateway consults to refuse a disabled unit's
messages, so in a deployment it must be the gateway's own ``devices`` table
(see :func:`open_registry`). :class:`LocalRegistry` keeps the same four
operations in central's SQLite file for a broker host without a gateway
database and for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from central.db import Database, iso, parse_iso, utcnow
from central.errors import DeviceExists, UnknownDevice
from protocol.fleet import Profile
from protocol.ids import is_device_id
from protocol.reports import Location


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    profile: Profile
    location: Location | None
    enabled: bool
    created_at: datetime | None = None


class Registry(Protocol):
    """What central needs of a device registry."""

    def add(self, device_id: str, *, profile: Profile, location: Location | None = None) -> Device: ...
    def get(self, device_id: str) -> Device: ...
    def list(self) -> list[Device]: ...
    def set_enabled(self, device_id: str, enabled: bool) -> Device: ...


class LocalRegistry:
    """The registry in central's own database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _row(r: dict) -> Device:
        loc = Location.model_validate_json(r["location"]) if r["location"] else None
        return Device(id=r["id"], profile=Profile(r["profile"]), location=loc,
                      enabled=bool(r["enabled"]), created_at=parse_iso(r["created_at"]))

    def add(self, device_id: str, *, profile: Profile, location: Location | None = None) -> Device:
        if not is_device_id(device_id):
            raise ValueError(f"id perangkat tidak sah / invalid device id {device_id!r}")
        with self.db.tx() as c:
            if c.execute("SELECT 1 FROM devices WHERE id=?", (device_id,)).fetchone():
                raise DeviceExists(f"perangkat sudah ada / device already exists: {device_id}")
            c.execute("INSERT INTO devices (id, profile, location, enabled, created_at) "
                      "VALUES (?, ?, ?, 1, ?)", (device_id, Profile(profile).value,
                                                 location.model_dump_json(exclude_none=True)
                                                 if location else "",
                                                 iso(utcnow())))
        return self.get(device_id)

    def get(self, device_id: str) -> Device:
        r = self.db.one("SELECT * FROM devices WHERE id=?", (device_id,))
        if r is None:
            raise UnknownDevice(f"perangkat tidak dikenal / unknown device: {device_id}")
        return self._row(r)

    def list(self) -> list[Device]:
        return [self._row(r) for r in self.db.query("SELECT * FROM devices ORDER BY id")]

    def set_enabled(self, device_id: str, enabled: bool) -> Device:
        self.get(device_id)
        with self.db.tx() as c:
            c.execute("UPDATE devices SET enabled=? WHERE id=?", (int(enabled), device_id))
        return self.get(device_id)


def open_registry(db: Database | None, gateway_db_url: str | None = None) -> Registry:
    """The gateway's registry when its URL is configured, else the local one."""
    if gateway_db_url:
        from central.gateway_registry import GatewayRegistry

        return GatewayRegistry(gateway_db_url)
    assert db is not None, "the local registry lives in central's database"
    return LocalRegistry(db)

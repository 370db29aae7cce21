"""The registry in the gateway's own ``devices`` table.

Used whenever ``gateway_db_url`` is configured: a unit disabled here is one
the gateway's ingest refuses (it accepts only registered, enabled devices),
on top of the broker refusing its login. The gateway's schema is migrated by
the gateway (Alembic); central only calls :mod:`gateway.store.devices`.
"""

from __future__ import annotations

from typing import Any

from central.errors import DeviceExists, RegistryUnavailable, UnknownDevice
from central.registry import Device
from protocol.fleet import Profile
from protocol.reports import Location


def _device(d: Any) -> Device:
    loc = None
    if any(v is not None for v in (d.label, d.area, d.lat, d.lon)):
        loc = Location(label=d.label, area=d.area, lat=d.lat, lon=d.lon)
    return Device(id=d.id, profile=Profile(d.profile), location=loc, enabled=bool(d.enabled),
                  created_at=d.created_at)


def _missing_sqlite_file(url: str) -> str | None:
    """The SQLite file ``url`` names when it does not exist (else None)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return None if Path(u.database).exists() else u.database


class GatewayRegistry:
    """:class:`central.registry.Registry` over ``gateway.store.devices``."""

    def __init__(self, url: str, *, migrate: bool = False) -> None:
        from gateway.store.db import Database as GatewayDatabase
        from gateway.store.db import current_revision

        missing = _missing_sqlite_file(url)
        if missing and not migrate:  # opening it would leave an empty file behind
            raise RegistryUnavailable(
                f"basis data gateway belum dimigrasi / gateway database not migrated (no file "
                f"{missing}): run `siaga gateway migrate` first")
        self.gdb = GatewayDatabase(url)
        self._owned = True
        if migrate:  # tests and a first install; normally the gateway migrates its own schema
            self.gdb.migrate()
        elif current_revision(self.gdb.engine) is None:
            self.gdb.dispose()
            raise RegistryUnavailable(
                "basis data gateway belum dimigrasi / gateway database not migrated: "
                "run `siaga gateway migrate` first")

    def add(self, device_id: str, *, profile: Profile, location: Location | None = None) -> Device:
        from gateway.errors import DuplicateDevice
        from gateway.store import devices

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
        from gateway.errors import UnknownDevice as GwUnknown
        from gateway.store import devices

        try:
            with self.gdb.read_session() as s:  # reads never take the gateway's write lock
                return _device(devices.get(s, device_id))
        except GwUnknown:
            raise UnknownDevice(f"perangkat tidak dikenal / unknown device: {device_id}") from None

    def list(self) -> list[Device]:
        from gateway.store import devices

        with self.gdb.read_session() as s:
            return [_device(d) for d in devices.list_devices(s)]

    def set_enabled(self, device_id: str, enabled: bool) -> Device:
        from gateway.errors import UnknownDevice as GwUnknown
        from gateway.store import devices

        try:
            with self.gdb.session() as s:
                return _device(devices.set_enabled(s, device_id, enabled))
        except GwUnknown:
            raise UnknownDevice(f"perangkat tidak dikenal / unknown device: {device_id}") from None

    @classmethod
    def sharing(cls, gdb: Any) -> GatewayRegistry:
        """Over a gateway ``Database`` already open in this process (the
        gateway hosting the fleet): one engine, one SQLite write lock, so the
        two never meet as strangers on the same file."""
        self = cls.__new__(cls)
        self.gdb = gdb
        self._owned = False
        return self

    def close(self) -> None:
        if self._owned:
            self.gdb.dispose()

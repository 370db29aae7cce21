"""The device registry: a small, keyword-only Python API.

The gateway only accepts messages from registered, enabled devices. The
fleet-admin tools (``central``: ``siaga admin device add/disable``, the
health watch) use these functions directly::

    from gateway.store.db import Database
    from gateway.store import devices

    db = Database("sqlite:////var/lib/siaga/gateway.db")
    with db.session() as s:
        devices.add(s, "box-taman-01", profile="field", label="Jl. Pahlawan", area="Taman")
        devices.set_enabled(s, "box-taman-01", False)
        for d in devices.list_devices(s, enabled=True):
            print(d.id, d.last_seen, d.last_telemetry)

Every function takes an open session; the caller's ``db.session()`` block is
the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.errors import DuplicateDevice, UnknownDevice
from gateway.store.models import Device
from protocol.fleet import Profile
from protocol.ids import is_device_id


def add(session: Session, device_id: str, *, profile: Profile | str, label: str | None = None,
        area: str | None = None, lat: float | None = None, lon: float | None = None,
        enabled: bool = True) -> Device:
    """Register a device; raises DuplicateDevice if the id exists, ValueError
    for an id that cannot be a broker user / topic segment."""
    if not is_device_id(device_id):
        raise ValueError(f"invalid device id {device_id!r}")
    profile = Profile(profile)
    if session.get(Device, device_id) is not None:
        raise DuplicateDevice(f"device {device_id!r} already registered")
    dev = Device(id=device_id, profile=profile.value, label=label, area=area, lat=lat, lon=lon,
                 enabled=enabled, created_at=utcnow())
    session.add(dev)
    session.flush()
    return dev


def get(session: Session, device_id: str) -> Device:
    """The device, or UnknownDevice."""
    dev = session.get(Device, device_id)
    if dev is None:
        raise UnknownDevice(device_id)
    return dev


def list_devices(session: Session, *, enabled: bool | None = None,
                 profile: Profile | str | None = None) -> Sequence[Device]:
    """Devices ordered by id, optionally filtered."""
    q = select(Device).order_by(Device.id)
    if enabled is not None:
        q = q.where(Device.enabled == enabled)
    if profile is not None:
        q = q.where(Device.profile == Profile(profile).value)
    return session.scalars(q).all()


def set_enabled(session: Session, device_id: str, enabled: bool) -> Device:
    """Enable or disable a device; a disabled device's messages are rejected."""
    dev = get(session, device_id)
    dev.enabled = enabled
    return dev


def update(session: Session, device_id: str, **fields: Any) -> Device:
    """Change label/area/lat/lon/profile of a device."""
    allowed = {"label", "area", "lat", "lon", "profile"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"cannot update {', '.join(sorted(unknown))}")
    dev = get(session, device_id)
    for k, v in fields.items():
        setattr(dev, k, Profile(v).value if k == "profile" else v)
    return dev


def enabled_ids(session: Session, ids: set[str]) -> dict[str, Device]:
    """``{id: device}`` for those of ``ids`` that are registered (enabled or not)."""
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(ids)))}


def seen(dev: Device, at: datetime | None = None) -> None:
    dev.last_seen = at or utcnow()

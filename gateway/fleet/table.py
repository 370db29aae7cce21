"""The fleet table: every unit's registry row, presence and fleet state in
a handful of queries (one per table, not one per device), for ``/api/devices``
and ``siaga admin devices``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.fleet.desired import Drift
from gateway.fleet.sql import parse_iso
from gateway.store.models import Device
from gateway.store.models_fleet import (
    FleetCredential,
    FleetDesired,
    FleetFault,
    FleetGroup,
    FleetReported,
    FleetRolloutUnit,
)


def fleet_state(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{device: {revoked, faults, config, groups}}`` for ``ids``."""
    if not ids:
        return {}
    ids = list(ids)
    faults: dict[str, list[str]] = defaultdict(list)
    for dev, fault in session.execute(
            select(FleetFault.device, FleetFault.fault)
            .where(FleetFault.device.in_(ids), FleetFault.closed_at.is_(None)).order_by(FleetFault.id)):
        faults[dev].append(fault)
    groups: dict[str, list[str]] = defaultdict(list)
    for dev, name in session.execute(select(FleetGroup.device, FleetGroup.name)
                                     .where(FleetGroup.device.in_(ids)).order_by(FleetGroup.name)):
        groups[dev].append(name)
    creds = {c.username: c for c in session.scalars(
        select(FleetCredential).where(FleetCredential.username.in_(ids)))}
    desired = {d.device: d for d in session.scalars(select(FleetDesired).where(FleetDesired.device.in_(ids)))}
    reported = {r.device: r for r in session.scalars(
        select(FleetReported).where(FleetReported.device.in_(ids)))}
    out = {}
    for i in ids:
        c, d, r = creds.get(i), desired.get(i), reported.get(i)
        drift = Drift(device=i, desired_version=d.version if d else None,
                      reported_version=r.version if r else None,
                      refused_version=r.refused_version if r else None, error=r.error if r else None,
                      published=bool(d and d.published_at), issued_at=parse_iso(d.issued_at) if d else None,
                      reported_at=parse_iso(r.received_at) if r else None)
        out[i] = {"revoked": bool(c is None or c.revoked or not c.hash), "faults": faults.get(i, []),
                  "config": drift.state, "groups": groups.get(i, [])}
    return out


def device_rows(session: Session, devices: Sequence[Device]) -> list[dict[str, Any]]:
    """One dict per device: the registry row, presence and the fleet state."""
    state = fleet_state(session, [d.id for d in devices])
    rows = []
    for d in devices:
        t = d.last_telemetry or {}
        rows.append({
            "id": d.id, "profile": d.profile, "label": d.label, "area": d.area, "lat": d.lat, "lon": d.lon,
            "enabled": d.enabled, "created_at": d.created_at, "online": bool(d.online),
            "last_seen": d.last_seen, "last_status": d.last_status, "status_reason": d.status_reason,
            "status_at": d.status_at, "firmware": t.get("firmware") or d.firmware,
            "update": t.get("update"), "self_test": t.get("self_test"), "signal_dbm": t.get("signal_dbm"),
            "outbox_depth": t.get("outbox_depth"),
            "last_telemetry": d.last_telemetry, "telemetry_at": d.telemetry_at, **state[d.id],
        })
    return rows


def rollout_state(session: Session, device: str) -> str | None:
    """The unit's state in the newest rollout that includes it."""
    return session.scalar(select(FleetRolloutUnit.state).where(FleetRolloutUnit.device == device)
                          .order_by(FleetRolloutUnit.rollout.desc()).limit(1))

"""Call records, OPDs and devices (with their last telemetry)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from gateway.api.deps import AdminUser, CurrentUser, SessionDep, StaffUser, StateDep
from gateway.api.routers.incidents import ERR
from gateway.api.schemas import (
    CallPage,
    CallPublic,
    ContactPublic,
    DeviceCreate,
    DevicePublic,
    DeviceUpdate,
    OpdPublic,
)
from gateway.errors import DuplicateDevice, UnknownDevice
from gateway.fleet.table import device_rows
from gateway.store import devices
from gateway.store.models import Assignment, Call, Incident

router = APIRouter(prefix="/api", tags=["fleet"])


@router.get("/calls", response_model=CallPage, responses=ERR, summary="Call records, newest first")
def list_calls(session: SessionDep, _user: StaffUser,
               device: Annotated[str | None, Query(max_length=63)] = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               cursor: Annotated[str | None, Query(max_length=40)] = None) -> CallPage:
    q = select(Call)
    if device:
        q = q.where(Call.device_id == device)
    if since:
        q = q.where(Call.received_at >= since)
    if until:
        q = q.where(Call.received_at < until)
    # call ids are ULIDs, sortable by creation: the cursor is the last id seen
    if cursor:
        q = q.where(Call.id < cursor)
    rows = session.scalars(q.order_by(Call.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return CallPage(items=[CallPublic.model_validate(r) for r in rows],
                    next_cursor=rows[-1].id if more and rows else None)


@router.get("/opds", response_model=list[OpdPublic], responses=ERR, summary="The site's OPDs")
def list_opds(session: SessionDep, gw: StateDep, _user: CurrentUser) -> list[OpdPublic]:
    open_counts = dict(session.execute(
        select(Assignment.opd, func.count()).join(Incident, Assignment.incident_pk == Incident.pk)
        .where(Assignment.status.in_(("dispatched", "acknowledged", "on_scene")),
               Incident.status.in_(("dispatched", "acknowledged", "on_scene")))
        .group_by(Assignment.opd)).all())
    out = []
    for o in gw.cfg.opds:
        ch = [c for c, on in (("webhook", o.channels.webhook is not None),
                              ("mqtt", o.channels.mqtt_terminal), ("sms", bool(o.channels.sms))) if on]
        out.append(OpdPublic(id=o.id, name=o.name,
                             contacts=[ContactPublic.model_validate(c) for c in o.contacts],
                             channels=ch, sms=list(o.channels.sms), open_cases=open_counts.get(o.id, 0)))
    return out


def _public(session: Any, devs: Any) -> list[DevicePublic]:
    return [DevicePublic.model_validate(r) for r in device_rows(session, list(devs))]


@router.get("/devices", response_model=list[DevicePublic], responses=ERR,
            summary="The fleet table: registry, presence, telemetry, faults, config drift, groups")
def list_devices(session: SessionDep, _user: StaffUser, enabled: bool | None = None) -> list[DevicePublic]:
    return _public(session, devices.list_devices(session, enabled=enabled))


@router.get("/devices/{device_id}", response_model=DevicePublic, responses=ERR, summary="One device")
def get_device(device_id: str, session: SessionDep, _user: StaffUser) -> DevicePublic:
    try:
        return _public(session, [devices.get(session, device_id)])[0]
    except UnknownDevice:
        raise HTTPException(404, "Perangkat tidak dikenal / unknown device") from None


@router.post("/devices", response_model=DevicePublic, status_code=201, responses=ERR,
             summary="Register a device (admin)")
def add_device(body: DeviceCreate, session: SessionDep, _admin: AdminUser) -> DevicePublic:
    try:
        d = devices.add(session, body.id, profile=body.profile, label=body.label, area=body.area,
                        lat=body.lat, lon=body.lon, enabled=body.enabled)
    except DuplicateDevice:
        raise HTTPException(409, "Perangkat sudah terdaftar / device already registered") from None
    return _public(session, [d])[0]


@router.patch("/devices/{device_id}", response_model=DevicePublic, responses=ERR,
              summary="Enable/disable or relabel a device (admin)")
def patch_device(device_id: str, body: DeviceUpdate, session: SessionDep, _admin: AdminUser) -> DevicePublic:
    try:
        if body.enabled is not None:
            devices.set_enabled(session, device_id, body.enabled)
        fields = body.model_dump(exclude_unset=True, exclude={"enabled"})
        d = devices.update(session, device_id, **fields) if fields else devices.get(session, device_id)
    except UnknownDevice:
        raise HTTPException(404, "Perangkat tidak dikenal / unknown device") from None
    return _public(session, [d])[0]



"""Fleet pages for the gateway: a FastAPI router under ``/api/fleet``.

The gateway includes it behind its admin auth::

    from gateway.fleet.api import make_router
    app.include_router(make_router(fleet, service=fleet_service),
                       dependencies=[Depends(require_role("admin"))])

Writes (config, commands) only store: the fleet service publishes desired
documents and sends queued commands on its next tick, so a request never
waits on the broker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.fleet.commands import CommandService
from gateway.fleet.context import Fleet
from gateway.fleet.desired import merge_settings
from gateway.fleet.errors import BadSetting, UnknownDevice
from gateway.fleet.rollout_api import add_rollout_routes
from gateway.fleet.service import FleetService
from gateway.fleet.sql import utcnow
from protocol.fleet import Command


class ConfigChange(BaseModel):
    """Keys of ``UnitSettings`` to set; ``null`` removes a key."""

    model_config = ConfigDict(extra="forbid")
    settings: dict[str, Any] = Field(title="Settings to change", min_length=1)


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(title="Command name", pattern=r"^[a-z_]{1,32}$")
    args: dict[str, Any] = Field(default_factory=dict, title="Arguments")
    timeout_s: float = Field(30.0, gt=0, le=3600, title="Reply timeout once sent")
    expires_in_s: float = Field(3600.0, gt=0, le=7 * 86400, title="Never sent or run after this")


def make_router(fleet: Fleet, *, service: FleetService | None = None) -> APIRouter:
    router = APIRouter(prefix="/api/fleet", tags=["fleet"])

    def _device(device_id: str) -> Any:
        try:
            return fleet.registry.get(device_id)
        except UnknownDevice as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/devices", summary="Fleet table: presence, faults, config drift")
    def list_devices() -> list[dict[str, Any]]:
        return [fleet.device_row(d) for d in fleet.registry.list()]

    @router.get("/devices/{device_id}", summary="One device in detail")
    def get_device(device_id: str) -> dict[str, Any]:
        d = _device(device_id)
        row = fleet.device_row(d)
        row["presence"] = fleet.health.presence(device_id)
        row["drift"] = fleet.config.drift(device_id).as_dict()
        return row

    @router.get("/devices/{device_id}/faults", summary="Fault episodes of one device, newest first")
    def device_faults(device_id: str, open_only: Annotated[bool, Query(alias="open")] = False,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        _device(device_id)
        if open_only:
            return fleet.health.open_faults(device_id)
        return fleet.health.faults(device_id, limit=limit)

    @router.get("/devices/{device_id}/events", summary="Events of one device (power restored...)")
    def device_events(device_id: str,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        _device(device_id)
        return fleet.health.events(device_id, limit=limit)

    @router.get("/faults", summary="Fault episodes of the fleet")
    def faults(open_only: Annotated[bool, Query(alias="open")] = True,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        return fleet.health.open_faults() if open_only else fleet.health.faults(limit=limit)

    @router.get("/devices/{device_id}/config", summary="Desired, reported and drift")
    def get_config(device_id: str) -> dict[str, Any]:
        _device(device_id)
        desired = fleet.config.desired(device_id)
        reported = fleet.config.reported(device_id)
        return {
            "desired": desired.model_dump(mode="json", exclude_none=True) if desired else None,
            "reported": reported.model_dump(mode="json", exclude_none=True) if reported else None,
            "drift": fleet.config.drift(device_id).as_dict(),
        }

    @router.put("/devices/{device_id}/config", status_code=202,
                summary="Store a new desired version (published by the fleet service)")
    def set_config(device_id: str, change: ConfigChange) -> dict[str, Any]:
        _device(device_id)
        try:
            doc = fleet.config.set(device_id, change.settings)
        except BadSetting as exc:
            raise HTTPException(422, str(exc)) from None
        return {"device": device_id, "version": doc.version,
                "settings": doc.settings.model_dump(mode="json", exclude_none=True, exclude={"v"})}

    @router.put("/groups/{group}/config", status_code=202,
                summary="A new desired version for every member of a group")
    def set_group_config(group: str, change: ConfigChange) -> list[dict[str, Any]]:
        members = fleet.groups.members(group)
        if not members:
            raise HTTPException(404, f"grup kosong atau tidak dikenal / empty or unknown group: {group}")
        try:
            merge_settings({}, change.settings)  # refuse a bad value before any version is used
            docs = {d: fleet.config.set(d, change.settings) for d in members}
        except BadSetting as exc:
            raise HTTPException(422, str(exc)) from None
        return [{"device": d, "version": doc.version} for d, doc in docs.items()]

    @router.get("/groups", summary="Groups and their members")
    def groups() -> dict[str, list[str]]:
        return fleet.groups.all()

    @router.get("/drift", summary="Devices whose reported config differs from desired")
    def drift() -> list[dict[str, Any]]:
        rows = [fleet.config.drift(d.id) for d in fleet.registry.list()]
        return [r.as_dict() for r in rows if not r.in_sync]

    @router.post("/devices/{device_id}/commands", status_code=202,
                 summary="Queue a command (sent when the unit is online, until it expires)")
    def queue_command(device_id: str, req: CommandRequest) -> dict[str, Any]:
        _device(device_id)
        try:
            Command(name=req.name, args=req.args)  # same limits as the wire
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise HTTPException(422, f"perintah tidak sah / invalid command: {msg}") from None
        rec = fleet.commands.create(device_id, req.name, req.args, timeout_s=req.timeout_s,
                                      expires_at=utcnow() + timedelta(seconds=req.expires_in_s))
        return rec.as_dict()

    @router.get("/commands", summary="Recent commands, newest first")
    def list_commands(device: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        return [r.as_dict() for r in fleet.commands.list(device=device, limit=limit)]

    @router.get("/commands/{command_id}", summary="One command and its state")
    def get_command(command_id: str) -> dict[str, Any]:
        svc: CommandService = fleet.commands
        try:
            return svc.get(command_id).as_dict()
        except KeyError:
            raise HTTPException(404, f"perintah tidak dikenal / unknown command: {command_id}") from None

    add_rollout_routes(router, fleet)

    @router.get("/stats", summary="Fleet service counters (accepted / rejected by reason)")
    def stats() -> dict[str, Any]:
        return {"service_running": service is not None, "counters": service.stats() if service else {}}

    return router

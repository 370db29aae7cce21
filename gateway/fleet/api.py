"""The fleet wing's HTTP API, mounted by the gateway behind its login.

Per unit under ``/api/devices/{id}/...`` (faults, events, config, commands;
the unit itself is ``/api/devices/{id}`` in ``gateway.api.routers.fleet``),
fleet-wide under ``/api/fleet/...``. Reads for admins and supervisors;
writes (config, commands, rollouts) for admins. Writes only store: the
fleet service publishes desired documents and sends queued commands on its
next tick, so a request never waits on the broker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import ValidationError

from gateway.fleet.context import Fleet
from gateway.fleet.desired import merge_settings
from gateway.fleet.errors import BadSetting, UnknownDevice
from gateway.fleet.rollout_api import add_rollout_routes
from gateway.fleet.schemas import (
    CommandPublic,
    CommandRequest,
    ConfigChange,
    ConfigLine,
    ConfigStored,
    ConfigView,
    DeviceEvent,
    DriftPublic,
    FaultEpisode,
)
from gateway.fleet.service import FleetService
from gateway.fleet.sql import utcnow
from protocol.fleet import Command

Limit = Annotated[int, Query(ge=1, le=1000)]


def config_view(fleet: Fleet, device_id: str) -> ConfigView:
    desired = fleet.config.desired(device_id)
    reported = fleet.config.reported(device_id)
    d = desired.settings.model_dump(mode="json", exclude_none=True, exclude={"v"}) if desired else None
    r = reported.settings.model_dump(mode="json", exclude_none=True, exclude={"v"}) if reported else None
    keys = sorted(set(d or {}) | set(r or {}))
    return ConfigView(
        desired=d, reported=r, drift=DriftPublic(**fleet.config.drift(device_id).as_dict()),
        diff=[ConfigLine(key=k, desired=(d or {}).get(k), reported=(r or {}).get(k),
                         same=(d or {}).get(k) == (r or {}).get(k)) for k in keys])


def make_router(fleet: Fleet, *, service: FleetService | None = None,
                write_guard: Any = None) -> APIRouter:
    """``write_guard``: an extra dependency on every write (the gateway: admins only)."""
    writes: list[Any] = [write_guard] if write_guard is not None else []
    units = APIRouter(prefix="/api/devices", tags=["fleet"])
    router = APIRouter(prefix="/api/fleet", tags=["fleet"])

    def _device(device_id: str) -> Any:
        try:
            return fleet.registry.get(device_id)
        except UnknownDevice as exc:
            raise HTTPException(404, str(exc)) from None

    @units.get("/{device_id}/faults", response_model=list[FaultEpisode],
               summary="Fault episodes of one unit, newest first")
    def device_faults(device_id: str, open_only: Annotated[bool, Query(alias="open")] = False,
                      limit: Limit = 100) -> list[dict[str, Any]]:
        _device(device_id)
        if open_only:
            return fleet.health.open_faults(device_id)
        return fleet.health.faults(device_id, limit=limit)

    @units.get("/{device_id}/events", response_model=list[DeviceEvent],
               summary="Events of one unit (power restored, admin actions with their actor)")
    def device_events(device_id: str, limit: Limit = 50) -> list[dict[str, Any]]:
        _device(device_id)
        return fleet.health.events(device_id, limit=limit)

    @units.get("/{device_id}/config", response_model=ConfigView,
               summary="Desired vs reported configuration, key by key, and the drift")
    def get_config(device_id: str) -> ConfigView:
        _device(device_id)
        return config_view(fleet, device_id)

    @units.put("/{device_id}/config", status_code=202, response_model=ConfigStored, dependencies=writes,
               summary="Store a new desired version (published by the fleet service)")
    def set_config(device_id: str, change: ConfigChange) -> ConfigStored:
        _device(device_id)
        try:
            doc = fleet.config.set(device_id, change.settings)
        except BadSetting as exc:
            raise HTTPException(422, str(exc)) from None
        return ConfigStored(device=device_id, version=doc.version,
                            settings=doc.settings.model_dump(mode="json", exclude_none=True, exclude={"v"}))

    @units.post("/{device_id}/commands", status_code=202, response_model=CommandPublic, dependencies=writes,
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

    @units.get("/{device_id}/commands", response_model=list[CommandPublic],
               summary="Commands to one unit, newest first, with their state")
    def device_commands(device_id: str, limit: Limit = 20) -> list[dict[str, Any]]:
        _device(device_id)
        return [r.as_dict() for r in fleet.commands.list(device=device_id, limit=limit)]

    @router.get("/faults", response_model=list[FaultEpisode], summary="Fault episodes of the fleet")
    def faults(open_only: Annotated[bool, Query(alias="open")] = True,
               limit: Limit = 100) -> list[dict[str, Any]]:
        return fleet.health.open_faults() if open_only else fleet.health.faults(limit=limit)

    @router.put("/groups/{group}/config", status_code=202, dependencies=writes,
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

    @router.get("/drift", response_model=list[DriftPublic],
                summary="Units whose reported config differs from desired")
    def drift() -> list[dict[str, Any]]:
        rows = [fleet.config.drift(d.id) for d in fleet.registry.list()]
        return [r.as_dict() for r in rows if not r.in_sync]

    @router.get("/commands", response_model=list[CommandPublic], summary="Recent commands, newest first")
    def list_commands(device: str | None = None, limit: Limit = 50) -> list[dict[str, Any]]:
        return [r.as_dict() for r in fleet.commands.list(device=device, limit=limit)]

    @router.get("/commands/{command_id}", response_model=CommandPublic, summary="One command and its state")
    def get_command(command_id: str) -> dict[str, Any]:
        try:
            return fleet.commands.get(command_id).as_dict()
        except KeyError:
            raise HTTPException(404, f"perintah tidak dikenal / unknown command: {command_id}") from None

    add_rollout_routes(router, fleet, writes)

    @router.get("/stats", summary="Fleet service counters (applied / rejected by reason)")
    def stats() -> dict[str, Any]:
        return {"service_running": service is not None, "counters": service.stats() if service else {}}

    outer = APIRouter()
    outer.include_router(units)
    outer.include_router(router)
    return outer


def admin_writes() -> Any:
    """The gateway's guard for writes: admins only."""
    from gateway.api.deps import require
    from gateway.auth import Role

    return Depends(require(Role.ADMIN))

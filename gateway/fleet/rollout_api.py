"""Rollout routes under ``/api/fleet/rollouts`` (mounted by ``fleet.api.make_router``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from gateway.fleet.errors import ReleaseError
from gateway.fleet.rollout import select_units


class RolloutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=r"^\d{1,6}(\.\d{1,6}){0,3}$", title="Release version")
    url: str = Field(pattern=r"^https?://", max_length=300, title="Release repository URL for the units")
    group: str | None = Field(None, max_length=64, title="Only this group")
    percent: float | None = Field(None, gt=0, le=100, title="Else this share of the enabled fleet")
    waves: list[float] = Field([10, 50, 100], min_length=1, max_length=20,
                               title="Cumulative percentages per wave")
    abort_pct: float = Field(20.0, ge=0, lt=100, title="Stop when more than this % of a wave fails")
    wave_timeout_s: float = Field(3600.0, gt=0, le=7 * 86400, title="A wave's units must be final by then")


def add_rollout_routes(router: APIRouter, fleet: Any, writes: list[Any] | None = None) -> None:
    svc = fleet.rollouts

    @router.get("/rollouts", summary="Rollouts, newest first, with per-unit state")
    def list_rollouts() -> list[dict[str, Any]]:
        return svc.list()

    @router.get("/rollouts/{rollout_id}", summary="One rollout: waves, per-unit state, counts")
    def get_rollout(rollout_id: str) -> dict[str, Any]:
        try:
            return svc.get(rollout_id)
        except ReleaseError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post("/rollouts", status_code=202, dependencies=writes or [],
                 summary="Start a staged rollout (the fleet service runs it)")
    def start_rollout(req: RolloutRequest) -> dict[str, Any]:
        try:
            units, label = select_units(fleet, group=req.group, percent=req.percent)
            return svc.create(req.version, req.url, units, target=label, waves=req.waves,
                              abort_pct=req.abort_pct, wave_timeout_s=req.wave_timeout_s)
        except ReleaseError as exc:
            raise HTTPException(422, str(exc)) from None

    @router.post("/rollouts/{rollout_id}/abort", dependencies=writes or [],
                 summary="Stop offering the update to further units")
    def abort_rollout(rollout_id: str) -> dict[str, Any]:
        try:
            return svc.abort(rollout_id)
        except ReleaseError as exc:
            raise HTTPException(404, str(exc)) from None

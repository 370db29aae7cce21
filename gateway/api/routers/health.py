"""Liveness, readiness and Prometheus metrics (no authentication: for probes)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from gateway.api.deps import StateDep
from gateway.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process serves HTTP")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, summary="Readiness: database and broker reachable",
            responses={503: {"model": Health}})
def readyz(gw: StateDep) -> Response:
    checks: dict[str, bool] = {}
    try:
        # a read transaction: a probe must never take SQLite's write lock
        # (BEGIN IMMEDIATE) outside the process's lock, in the intake's way
        with gw.db.read_session() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:
        checks["database"] = False
    for name, fn in gw.ready_checks.items():
        try:
            checks[name] = bool(fn())
        except Exception:
            checks[name] = False
    ok = all(checks.values())
    roles = gw.roles() if gw.roles else []
    return JSONResponse(Health(status="ok" if ok else "not_ready", checks=checks, roles=roles).model_dump(),
                        status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(gw: StateDep) -> Response:
    return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

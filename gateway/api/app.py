"""The FastAPI app factory. Dependencies come in explicitly (no globals), so
tests, the demo and several instances in one process can each build one."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.api.deps import AppState
from gateway.api.messages import validation_handler
from gateway.api.routers import (
    assignments,
    auth,
    callbacks,
    calls,
    cap,
    casework,
    dashboard,
    deadletters,
    flags,
    fleet,
    health,
    incidents,
    kpis,
    labels,
    live,
    province,
)
from gateway.config.models import SiteConfig
from gateway.errors import IllegalTransition, NotFound
from gateway.metrics import Metrics
from gateway.store.db import Database


def create_app(cfg: SiteConfig, db: Database, *, metrics: Metrics | None = None,
               wake: threading.Event | None = None,
               ready_checks: dict[str, Callable[[], bool]] | None = None) -> FastAPI:
    """Build the API. ``wake`` is set when new deliveries are queued (the
    dispatcher's event); ``ready_checks`` feed ``/readyz`` (e.g. MQTT)."""
    app = FastAPI(
        title=f"Siaga 112 gateway — {cfg.site.name}",
        version="1",
        docs_url=None,  # gateway.web.docs serves /docs without a CDN
        redoc_url=None,
        description="Kasus darurat, OPD, perangkat, KPI / cases, OPDs, devices, KPIs. "
                    "Auth: session cookie (pages) or `Authorization: Bearer` (machines).",
    )
    app.state.gw = AppState(cfg=cfg, db=db, metrics=metrics or Metrics(),
                            wake=wake or threading.Event(), ready_checks=dict(ready_checks or {}))
    for r in (health.router, auth.router, incidents.router, assignments.router, cap.router,
              fleet.router, kpis.router, callbacks.router, deadletters.router, calls.router,
              flags.router, live.router, labels.router, casework.router, dashboard.router,
              province.router):
        app.include_router(r)
    from gateway.web import mount_pages  # the pages read the API above

    mount_pages(app)

    app.add_exception_handler(RequestValidationError, validation_handler)  # type: ignore[arg-type]

    @app.exception_handler(IllegalTransition)
    async def _conflict(_req: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=409)

    @app.exception_handler(NotFound)
    async def _missing(_req: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"not found: {exc}"}, status_code=404)

    return app

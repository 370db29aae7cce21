"""Server-sent events for the live queue: ``event: case`` with the case id
whenever a case is stored or changed here; the console then re-reads the
list. Staff only (an OPD's portal polls its own cases)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from gateway.api.deps import StaffUser, StateDep

router = APIRouter(prefix="/api", tags=["live"])


@router.get("/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}},
            summary="Live case changes (server-sent events: hello, case, resync)")
async def events(request: Request, gw: StateDep, _user: StaffUser) -> StreamingResponse:
    return StreamingResponse(gw.events.stream(request.is_disconnected), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

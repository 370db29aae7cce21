"""The ingest's dead-letter table, for admins: what a human must look at."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from gateway.api.deps import AdminUser, SessionDep
from gateway.api.routers.incidents import ERR
from gateway.api.schemas import DeadLetterPublic
from gateway.store.models import PoisonMessage

router = APIRouter(prefix="/api", tags=["ingest"])


@router.get("/ingest/dead-letters", response_model=list[DeadLetterPublic], responses=ERR,
            summary="Messages the ingest dead-lettered, newest first (admins)")
def list_dead_letters(session: SessionDep, _user: AdminUser,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[DeadLetterPublic]:
    rows = session.scalars(select(PoisonMessage).order_by(PoisonMessage.id.desc()).limit(limit)).all()
    return [DeadLetterPublic(
        id=r.id, topic=r.topic, device_id=r.device_id, reason=r.reason, attempts=r.attempts, size=r.size,
        received_at=r.received_at, payload_base64=base64.b64encode(r.payload).decode(),
        payload_text=r.payload.decode("utf-8", "replace")[:4096]) for r in rows]

"""OPD callbacks: an OPD's own system acknowledges or resolves a case.

Authenticated per OPD, by either its ``callback_token`` (``Authorization:
Bearer``) or a Standard Webhooks signature made with the OPD's webhook
secret over the request body (the older X-Siaga pair is still accepted; see
docs/opd-integration.md).
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import select

from gateway import lifecycle
from gateway.api.deps import StateDep
from gateway.api.routers.incidents import ERR
from gateway.api.schemas import CallbackBody, Problem
from gateway.dispatch import signing
from gateway.errors import IllegalTransition
from gateway.lifecycle import OpdStep
from gateway.store.models import Incident

log = logging.getLogger("gateway.api")
router = APIRouter(prefix="/api/callbacks", tags=["opd-callbacks"])


def _authenticate(request: Request, body: bytes, gw, opd_id: str) -> None:
    opd = gw.cfg.opd(opd_id)
    if opd is None:
        raise HTTPException(404, "OPD tidak dikenal / unknown OPD")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and opd.callback_token is not None:
        expected = opd.callback_token.resolve()
        if expected and hmac.compare_digest(auth[7:].strip().encode(), expected.encode()):
            return
        raise HTTPException(401, "Token salah / bad token", headers={"WWW-Authenticate": "Bearer"})
    secret = opd.channels.webhook.secret.resolve() if opd.channels.webhook else ""
    why = signing.verify_any(secret, request.headers, body,
                             window_s=gw.cfg.gateway.dispatch.replay_window_s)
    if why is not None:
        log.warning("OPD callback refused for %s: %s", opd_id, why)
        raise HTTPException(401, f"Tanda tangan ditolak / signature refused: {why}",
                            headers={"WWW-Authenticate": "Bearer"})


@router.post("/{opd_id}/incidents/{incident_id}/{step}", status_code=204,
             responses={**ERR, 422: {"model": Problem}},
             summary="OPD acknowledges (naming its responder) / reports on scene / resolves / declines "
                     "(with a reason) its part of a case, or changes its responder")
async def opd_callback(opd_id: str, incident_id: str, step: OpdStep, request: Request,
                       gw: StateDep) -> None:
    body = await request.body()
    _authenticate(request, body, gw, opd_id)
    parsed = CallbackBody()
    if body.strip():
        try:
            parsed = CallbackBody.model_validate_json(body)
        except ValueError:
            raise HTTPException(422, "badan tidak valid / body must be JSON: {\"note\", \"reason\", "
                                     "\"responder\", \"responder_kind\"}") from None
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(_apply, gw, opd_id, incident_id, step, parsed)


def _apply(gw, opd_id: str, incident_id: str, step: OpdStep, body: CallbackBody) -> None:
    with gw.db.session() as session:
        inc = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
        if inc is None:
            raise HTTPException(404, "Kasus tidak ditemukan / incident not found")
        if not any(a.opd == opd_id for a in inc.assignments):
            raise HTTPException(403, "Bukan kasus OPD Anda / not your OPD's case")
        try:
            lifecycle.opd_step(session, inc, opd_id, step, actor=f"opd:{opd_id}", via="callback",
                               note=body.note, reason=body.reason, responder=body.responder,
                               responder_kind=body.responder_kind)
        except IllegalTransition as exc:
            raise HTTPException(409, exc.message) from None



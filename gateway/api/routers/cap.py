"""Cases as OASIS CAP 1.2: one case, and an Atom feed of recent cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from gateway.api.deps import CurrentUser, SessionDep, StateDep
from gateway.api.routers.incidents import ERR, load, visible
from gateway.cap import alert_xml, atom_feed
from gateway.store.models import Incident

router = APIRouter(prefix="/api", tags=["cap"])
CAP_TYPE = "application/cap+xml"


@router.get("/incidents/{ref}/cap", response_class=Response, responses={
    **ERR, 200: {"content": {CAP_TYPE: {}}}}, summary="One case as an OASIS CAP 1.2 alert")
def incident_cap(ref: str, session: SessionDep, gw: StateDep, user: CurrentUser) -> Response:
    return Response(alert_xml(load(session, ref, user), gw.cfg), media_type=CAP_TYPE)


@router.get("/feed/cap.atom", response_class=Response, responses={
    **ERR, 200: {"content": {"application/atom+xml": {}}}},
    summary="Atom feed of recent cases, each entry carrying its CAP 1.2 alert")
def cap_feed(request: Request, session: SessionDep, gw: StateDep, user: CurrentUser,
             limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    q = visible(select(Incident), user).order_by(Incident.pk.desc()).limit(limit)
    base = str(request.base_url).rstrip("/")
    return Response(atom_feed(session.scalars(q).all(), gw.cfg, base), media_type="application/atom+xml")

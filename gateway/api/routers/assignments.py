"""One OPD's part of a case: add or re-route OPDs (staff), and the OPD's
steps (acknowledge with its responder, on scene, resolve, decline)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, HTTPException

from gateway import lifecycle
from gateway.api.deps import CurrentUser, SessionDep, StaffUser, StateDep
from gateway.api.routers.incidents import ERR, _detail, load, refuse_city_case
from gateway.api.schemas import AssignCreate, IncidentDetail, OpdStepCreate
from gateway.auth import Role
from gateway.errors import IllegalTransition

router = APIRouter(prefix="/api", tags=["incidents"])


@router.post("/incidents/{ref}/assignments", response_model=IncidentDetail, responses=ERR,
             summary="Give the case to more OPDs, or re-route one OPD's part (withdraw)")
def add_assignments(ref: str, body: AssignCreate, session: SessionDep, gw: StateDep,
                    user: StaffUser, tasks: BackgroundTasks) -> IncidentDetail:
    inc = load(session, ref, user, lock=True)
    refuse_city_case(gw.cfg, inc)
    try:
        lifecycle.assign(session, gw.cfg, inc, body.opds, actor=user.username, via="api",
                         note=body.note, withdraw=body.withdraw)
    except IllegalTransition as exc:
        raise HTTPException(409, exc.message) from None
    gw.wake.set()
    session.flush()
    session.expire(inc)
    tasks.add_task(gw.events.publish, "case", id=inc.id)  # after the commit: the live queue
    return _detail(session, inc, user)


@router.post("/incidents/{ref}/steps", response_model=IncidentDetail, responses=ERR,
             summary="An OPD's step on its part: acknowledged (with responder), on_scene, resolved, "
                     "declined (with reason), responder")
def opd_step(ref: str, body: OpdStepCreate, session: SessionDep, user: CurrentUser,
             gw: StateDep, tasks: BackgroundTasks) -> IncidentDetail:
    inc = load(session, ref, user, lock=True)
    if user.role == Role.SUPERVISOR:
        raise HTTPException(403, "Supervisor tidak bertindak atas nama OPD / a supervisor "
                                 "cannot acknowledge or resolve for an OPD")
    if user.role == Role.OPD:
        if body.opd not in (None, user.opd) or user.opd is None:
            raise HTTPException(403, "Bukan OPD Anda / not your OPD")
        opd = user.opd
    elif body.opd is None:
        raise HTTPException(409, "sebutkan OPD / name the OPD acting (field 'opd')")
    else:
        opd = body.opd
    try:
        lifecycle.opd_step(session, inc, opd, body.step, actor=user.username, via="api", note=body.note,
                           reason=body.reason, responder=body.responder,
                           responder_kind=body.responder_kind)
    except IllegalTransition as exc:
        raise HTTPException(409, exc.message) from None
    session.flush()
    session.expire(inc)
    tasks.add_task(gw.events.publish, "case", id=inc.id)  # after the commit: the live queue
    return _detail(session, inc, user)

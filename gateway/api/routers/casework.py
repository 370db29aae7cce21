"""The case page's own steps: notes, the phone hand-off of a case no OPD
of the system takes, and merging another report of the same event.

Why a router of its own: these are the desk's work on a case beside its
lifecycle (``incidents``) and its OPD parts (``assignments``)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, HTTPException
from sqlalchemy.orm import Session

from gateway import lifecycle
from gateway.api.deps import AppState, CurrentUser, SessionDep, StaffUser, StateDep
from gateway.api.routers.incidents import ERR, _detail, load, refuse_city_case
from gateway.api.schemas import HandoffCreate, IncidentDetail, MergeCreate, NoteCreate
from gateway.errors import IllegalTransition
from gateway.store.models import Incident, User

router = APIRouter(prefix="/api", tags=["incidents"])


def _changed(session: Session, gw: AppState, user: User, tasks: BackgroundTasks, inc: Incident,
             *also: Incident) -> IncidentDetail:
    """After a step: the consoles are told once the request commits; the case as it is now."""
    session.flush()
    session.expire(inc)
    for changed in (inc, *also):
        tasks.add_task(gw.events.publish, "case", id=changed.id)
    return _detail(session, inc, user, gw.cfg)


@router.post("/incidents/{ref}/notes", response_model=IncidentDetail, responses=ERR,
             summary="Add a note to the case (staff, or the OPD on its own case)")
def add_note(ref: str, body: NoteCreate, session: SessionDep, gw: StateDep, user: CurrentUser,
             tasks: BackgroundTasks) -> IncidentDetail:
    inc = load(session, ref, user, lock=True)
    lifecycle.add_note(session, inc, body.text.strip() or body.text, actor=user.username, via="api")
    return _changed(session, gw, user, tasks, inc)


@router.post("/incidents/{ref}/handoff", response_model=IncidentDetail, responses=ERR,
             summary="The operator phoned the case through (no OPD of the system takes it); closes it")
def hand_off(ref: str, body: HandoffCreate, session: SessionDep, gw: StateDep, user: StaffUser,
             tasks: BackgroundTasks) -> IncidentDetail:
    inc = load(session, ref, user, lock=True)
    refuse_city_case(gw.cfg, inc)
    try:
        lifecycle.hand_off(session, inc, to=body.to, note=body.note, actor=user.username, via="api")
    except IllegalTransition as exc:
        raise HTTPException(409, exc.message) from None
    return _changed(session, gw, user, tasks, inc)


@router.post("/incidents/{ref}/merge", response_model=IncidentDetail, responses=ERR,
             summary="Merge this case into another report of the same event (kept as its duplicate)")
def merge(ref: str, body: MergeCreate, session: SessionDep, gw: StateDep, user: StaffUser,
          tasks: BackgroundTasks) -> IncidentDetail:
    dup = load(session, ref, user, lock=True)
    into = load(session, body.into, user, lock=True)
    for case in (dup, into):
        refuse_city_case(gw.cfg, case)
    try:
        lifecycle.merge_duplicate(session, dup, into, actor=user.username, via="api", note=body.note)
    except IllegalTransition as exc:
        raise HTTPException(409, exc.message) from None
    return _changed(session, gw, user, tasks, dup, into)

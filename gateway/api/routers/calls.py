"""Call types set from the console, and a caller's history for the desk.

Why a router of its own: both are about the *call* behind a case (its type,
the number's past), not about the case's lifecycle in ``incidents``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Path, Query
from sqlalchemy import func, select, update

from gateway import flags, lifecycle
from gateway.api.deps import SessionDep, StaffUser, StateDep
from gateway.api.routers.incidents import ERR, _detail, load, refuse_city_case
from gateway.api.schemas import CallerHistory, CallTypeSet, DeskPublic, IncidentDetail, IncidentPublic
from gateway.clock import utcnow
from gateway.lifecycle import Status
from gateway.store.models import Call, Device, Incident
from protocol.reports import JUNK_CALL_TYPES

router = APIRouter(prefix="/api", tags=["calls"])

#: statuses in which junk typing can still stop the case before an OPD sees it
_BEFORE_OPD = frozenset({Status.RECEIVED.value, Status.TRIAGED.value})
_FINISHED = (Status.RESOLVED.value, Status.CLOSED.value, Status.REJECTED.value)


@router.post("/incidents/{ref}/call-type", response_model=IncidentDetail, responses=ERR,
             summary="Type (or retype) the call a case came from")
def set_call_type(ref: str, body: CallTypeSet, session: SessionDep, gw: StateDep,
                  user: StaffUser, tasks: BackgroundTasks) -> IncidentDetail:
    """A junk type (ghost, prank, test, misdial) rejects a case not yet
    dispatched; once an OPD has it, junk typing is refused (409): the OPD
    must close it, the desk cannot silently take it back."""
    inc = load(session, ref, user, lock=True)
    refuse_city_case(gw.cfg, inc)
    ctype = body.call_type
    junk = ctype in JUNK_CALL_TYPES
    if junk and inc.status not in _BEFORE_OPD and inc.status != Status.REJECTED.value:
        raise HTTPException(409, f"Kasus sudah dikirim ke OPD ({inc.status}); tidak bisa ditandai "
                                 f"{ctype.value} / already with an OPD, cannot be typed {ctype.value}")
    old = inc.call_type
    inc.call_type = ctype.value
    lifecycle.audit(session, inc, to=inc.status, from_status=inc.status, event="call_type",
                    actor=user.username, via="api", note=f"{old or '-'} -> {ctype.value}"
                    + (f": {body.note}" if body.note else ""))
    if inc.call_id:
        session.execute(update(Call).where(Call.id == inc.call_id).values(call_type=ctype.value))
    if junk and inc.status in _BEFORE_OPD:
        lifecycle.reject(session, inc, ctype.value, actor=user.username, via="api", note=body.note)
    session.flush()
    if flags.evaluate(session, gw.cfg.flags, [inc.caller], utcnow()):
        gw.flags_changed.set()
    tasks.add_task(gw.events.publish, "case", id=inc.id)
    session.expire(inc)
    return _detail(session, inc, user)


Number = Annotated[str, Path(pattern=r"^\+?[0-9*#]{1,20}$")]


@router.get("/desks", response_model=list[DeskPublic], responses=ERR,
            summary="Each panel's call now (ringing/active/idle), with the gateway's flag check")
def desks(session: SessionDep, _user: StaffUser) -> list[DeskPublic]:
    now = utcnow()
    out = []
    for d in session.scalars(select(Device).where(Device.profile == "panel", Device.desk.is_not(None))
                             .order_by(Device.id)):
        st = d.desk or {}
        number = st.get("number")
        out.append(DeskPublic(device=d.id, label=d.label, phase=st.get("phase", "idle"), number=number,
                              call_id=st.get("call_id"), operator=st.get("operator"), at=d.desk_at,
                              flagged=bool(number and flags.active_for(session, number, now))))
    return out


@router.get("/callers/{number}", response_model=CallerHistory, responses=ERR,
            summary="A caller's history: calls in the last days by type, open cases")
def caller_history(number: Number, session: SessionDep, _user: StaffUser,
                   days: Annotated[int, Query(ge=1, le=365)] = 30) -> CallerHistory:
    since = utcnow() - timedelta(days=days)
    by_type = {t or "untyped": n for t, n in session.execute(
        select(Call.call_type, func.count()).where(Call.number == number, Call.received_at >= since)
        .group_by(Call.call_type))}
    open_cases = session.scalars(
        select(Incident).where(Incident.caller == number, Incident.status.not_in(_FINISHED))
        .order_by(Incident.pk.desc()).limit(20)).all()
    flag = flags.active_for(session, number, utcnow())
    return CallerHistory(number=number, days=days, calls=sum(by_type.values()), by_type=by_type,
                         open_cases=[IncidentPublic.model_validate(i) for i in open_cases],
                         flagged=flag is not None, flag_offence=flag.offence if flag else None,
                         flag_until=flag.expires_at if flag else None)

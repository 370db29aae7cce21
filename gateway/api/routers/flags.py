"""Flagged numbers for the desk and the supervisors: list, lift, export.

A flag never blocks a call; lifting one needs a supervisor and a reason
(kept on the row, exported for the report to the carrier).
"""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from gateway import flags
from gateway.api.deps import SessionDep, StaffUser, StateDep, SupervisorUser
from gateway.api.routers.incidents import ERR
from gateway.clock import utcnow
from gateway.errors import IllegalTransition, NotFound
from gateway.store.models import FlaggedNumber

router = APIRouter(prefix="/api", tags=["flags"])
Number = Annotated[str, Path(pattern=r"^\+?[0-9*#]{1,20}$")]


class FlagPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    offence: int = Field(description="1: first flag (timed); 2 and more: permanent until lifted")
    calls: int = Field(description="Junk calls that triggered the flag")
    flagged_at: str
    expires_at: str | None
    lifted_at: str | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None

    @classmethod
    def of(cls, f: FlaggedNumber) -> FlagPublic:
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return cls(number=f.number, offence=f.offence, calls=f.calls, flagged_at=iso(f.flagged_at),
                   expires_at=iso(f.expires_at), lifted_at=iso(f.lifted_at), lifted_by=f.lifted_by,
                   lift_reason=f.lift_reason)


class LiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500, description="Why the flag is lifted (kept)")


@router.get("/flags", response_model=list[FlagPublic], responses=ERR,
            summary="Numbers flagged now (repeat prank/ghost callers)")
def list_flags(session: SessionDep, _user: StaffUser) -> list[FlagPublic]:
    return [FlagPublic.of(f) for f in flags.active(session, utcnow())]


@router.post("/flags/{number}/lift", response_model=FlagPublic, responses=ERR,
             summary="Lift a number's flag (supervisor, with a reason)")
def lift_flag(number: Number, body: LiftBody, session: SessionDep, gw: StateDep,
              user: SupervisorUser) -> FlagPublic:
    try:
        f = flags.lift(session, number, by=user.username, reason=body.reason, now=utcnow())
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except IllegalTransition as exc:
        raise HTTPException(422, exc.message) from None
    gw.flags_changed.set()
    return FlagPublic.of(f)


CSV_FIELDS = ("number", "offence", "calls", "flagged_at", "expires_at", "lifted_at", "lifted_by",
              "lift_reason")


@router.get("/export/flags.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}},
            summary="Every flag ever made, for the report to the carrier (supervisor)")
def export_flags(session: SessionDep, _user: SupervisorUser) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for f in session.scalars(select(FlaggedNumber).order_by(FlaggedNumber.pk)):
        row = FlagPublic.of(f).model_dump()
        w.writerow(["" if row[k] is None else row[k] for k in CSV_FIELDS])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="flagged-numbers.csv"'})

"""Incidents: list (filters, cursor pages), detail with timeline, transitions,
deliveries and re-dispatch, operator-created incidents, CSV export."""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, lazyload

from gateway import lifecycle, routing
from gateway.api.deps import CurrentUser, SessionDep, StaffUser, StateDep
from gateway.api.schemas import (
    CallPublic,
    DeliveryAttemptPublic,
    DeliveryDetail,
    DeliveryPublic,
    IncidentCreate,
    IncidentDetail,
    IncidentPage,
    IncidentPublic,
    LinkedCase,
    Problem,
    TransitionCreate,
)
from gateway.auth import Role
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.dispatch.outbox import redispatch
from gateway.errors import IllegalTransition, NotFound
from gateway.lifecycle import OpdStep, Status
from gateway.store.models import Assignment, Call, DeliveryAttempt, Incident, Outbox, User
from protocol.categories import CATALOGUE, Category
from protocol.ids import new_id
from protocol.reports import JUNK_CALL_TYPES

router = APIRouter(prefix="/api", tags=["incidents"])

_BEFORE_DISPATCH = frozenset({Status.RECEIVED.value, Status.TRIAGED.value})
ERR: dict[int | str, dict[str, Any]] = {401: {"model": Problem}, 403: {"model": Problem},
                                        404: {"model": Problem}, 409: {"model": Problem}}


def place_or_caller() -> RequestValidationError:
    """A typed report with neither a place nor a caller cannot go to an OPD."""
    return RequestValidationError([{
        "type": "place_or_caller", "loc": ("body", "location"),
        "msg": "Isi lokasi (alamat atau kecamatan) atau nomor penelepon sebelum dikirim ke OPD. "
               "/ Enter a place (address or area) or the caller's number first."}])


def _has_place(loc: Any) -> bool:
    return loc is not None and (bool(loc.label) or bool(loc.area) or loc.lat is not None)


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = int(raw.decode())
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(422, "cursor tidak valid / invalid cursor") from None
    if value < 0:
        raise HTTPException(422, "cursor tidak valid / invalid cursor")
    return value


def visible(q: Select, user: User) -> Select:
    """An ``opd`` user sees only cases assigned to its own OPD."""
    if user.role == Role.OPD:
        q = q.where(Incident.pk.in_(select(Assignment.incident_pk).where(Assignment.opd == user.opd)))
    return q


def load(session: Session, ref: str, user: User, *, lock: bool = False) -> Incident:
    """The incident by id or case number, 404/403 as fits; ``lock`` takes a
    row lock (PostgreSQL) so two simultaneous steps are decided one by one."""
    q = select(Incident).where(Incident.id == ref if len(ref) == 26 else Incident.case_no == ref)
    if lock:
        q = q.with_for_update()
    inc = session.scalar(q)
    if inc is None:
        raise HTTPException(404, "Kasus tidak ditemukan / incident not found")
    if user.role == Role.OPD and not any(a.opd == user.opd for a in inc.assignments):
        raise HTTPException(403, "Bukan kasus OPD Anda / not your OPD's case")
    return inc


def refuse_city_case(cfg: SiteConfig, inc: Incident) -> None:
    """A province that does not dispatch keeps its cities' cases as records:
    the city moves them, so no step is taken on one here (409)."""
    if inc.city is not None and cfg.province is not None and not cfg.province.dispatch:
        raise HTTPException(409, "Kasus kota: ditangani oleh kota, provinsi hanya mencatat "
                                 "/ a city's case: the city handles it, the province keeps the record")


def _filtered(user: User, status_: Status | None, category: Category | None, opd: str | None,
              device: str | None, since: datetime | None, until: datetime | None,
              city: str | None = None) -> Select:
    q = visible(select(Incident), user)
    if city is not None:
        q = q.where(Incident.city == city)
    if status_ is not None:
        q = q.where(Incident.status == status_.value)
    if category is not None:
        q = q.where(Incident.category == category.value)
    if opd is not None:
        q = q.where(Incident.pk.in_(select(Assignment.incident_pk).where(Assignment.opd == opd)))
    if device is not None:
        q = q.where(Incident.device_id == device)
    if since is not None:
        q = q.where(Incident.received_at >= since)
    if until is not None:
        q = q.where(Incident.received_at < until)
    return q


StatusQ = Annotated[Status | None, Query(alias="status")]
TimeQ = Annotated[datetime | None, Query()]
StrQ = Annotated[str | None, Query(max_length=63)]
CityQ = Annotated[str | None, Query(max_length=63, description="A province gateway: one city's cases "
                                                             "(its slug in province.cities)")]


@router.get("/incidents", response_model=IncidentPage, responses=ERR, summary="List incidents, newest first")
def list_incidents(session: SessionDep, user: CurrentUser, gw: StateDep, status_: StatusQ = None,
                   category: Category | None = None, opd: StrQ = None, device: StrQ = None,
                   since: TimeQ = None, until: TimeQ = None, city: CityQ = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: Annotated[str | None, Query(max_length=40)] = None,
                   updated_since: Annotated[datetime | None, Query(
                       description="Only cases changed at or after this time (a console's "
                                   "live queue after an event)")] = None) -> Response:
    """Shared by every viewer asking the same question (gateway.list_cache):
    the user's role and OPD are part of the question."""
    def page() -> bytes:
        q = _filtered(user, status_, category, opd, device, since, until, city)
        if updated_since is not None:
            q = q.where(Incident.updated_at >= updated_since)
        if cursor:
            q = q.where(Incident.pk < decode_cursor(cursor))
        # the list shows no timeline: its audit rows are not loaded (most of a page's cost)
        # a console's delta: "+ 0" keeps the planner off the primary key's order, which
        # scanned the whole table for the few recent rows; the updated_at index finds them
        order = (Incident.pk + 0).desc() if updated_since is not None else Incident.pk.desc()
        rows = session.scalars(q.order_by(order).limit(limit + 1)
                               .options(lazyload(Incident.transitions))).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return IncidentPage(items=[public(r, user, gw.cfg) for r in rows],
                            next_cursor=encode_cursor(rows[-1].pk) if more and rows else None
                            ).model_dump_json(by_alias=True).encode()

    key = (user.role, user.opd, status_, category, opd, device, since, until, city, limit, cursor,
           updated_since)
    return Response(gw.lists.get(key, page), media_type="application/json")


@router.post("/incidents", response_model=IncidentPublic, status_code=201, responses=ERR,
             summary="An incident typed in by an operator")
def create_incident(body: IncidentCreate, session: SessionDep, gw: StateDep,
                    user: StaffUser, tasks: BackgroundTasks) -> IncidentPublic:
    """The same cases-service path as a unit's report over MQTT, so both
    leave the same audit trail. A typed report needs a place or a caller
    unless it is junk."""
    now = utcnow()
    loc = body.location
    junk = body.call_type in JUNK_CALL_TYPES or not CATALOGUE[body.category].routed
    if not junk and not body.caller and not _has_place(loc):
        raise place_or_caller()
    route = routing.route(gw.cfg, body.category, "operator", loc.area if loc else None, body.call_type)
    inc, outbox = lifecycle.open_case(session, gw.cfg, route, dict(
        id=new_id(), category=body.category.value, source="operator",
        priority=int(CATALOGUE[body.category].priority), lat=loc.lat if loc else None,
        lon=loc.lon if loc else None, location_label=loc.label if loc else None,
        area=loc.area if loc else None, description=body.description, caller=body.caller,
        call_id=body.call_id, call_type=body.call_type.value if body.call_type else None,
        received_at=now, updated_at=now), actor=user.username, via="api", now=now)
    if outbox:
        gw.wake.set()
    session.expire(inc)
    tasks.add_task(gw.events.publish, "case", id=inc.id, new=True)  # after the commit
    return public(inc, user, gw.cfg)


def public(inc: Incident, user: User, cfg: SiteConfig | None = None) -> IncidentPublic:
    """The incident with the next steps this user may take (the pages show
    these instead of knowing the rules); with the site config, the OPDs the
    rules suggest before dispatch and those a hand-off case is phoned to."""
    out = IncidentPublic.model_validate(inc)
    out.category_label = CATALOGUE[Category(inc.category)].label_id
    staff = user.role != Role.OPD
    out.allowed_actions = lifecycle.case_actions(inc, staff=staff)
    if cfg is not None and inc.city is not None:  # a province's copy of a city's case
        out.city_name = cfg.city_name(inc.city)
        if cfg.province is not None and not cfg.province.dispatch:
            out.allowed_actions = []  # the city handles it: a record here (docs/deploy-scale.md)
            return out
    if cfg is not None and staff and inc.status in _BEFORE_DISPATCH:
        out.suggested_opds = list(routing.opds_for(cfg, inc.category, inc.area))
        if inc.handoff:
            out.handoff_to = list(routing.handoff_opds(cfg, inc.category, inc.area))
    for a_out, a in zip(out.assignments, inc.assignments, strict=True):
        a_out.allowed_actions = lifecycle.assignment_actions(
            inc, a, staff=staff, opd=user.opd, opd_steps=user.role != Role.SUPERVISOR)
    return out


def _deliveries(session: Session, inc: Incident) -> list[DeliveryDetail]:
    out = []
    for row in session.scalars(select(Outbox).where(Outbox.incident_pk == inc.pk).order_by(Outbox.id)):
        d = DeliveryDetail.model_validate(row)
        d.incident_id = inc.id
        d.attempt_log = [DeliveryAttemptPublic.model_validate(a) for a in session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == row.id)
            .order_by(DeliveryAttempt.pk))]
        out.append(d)
    return out


def _detail(session: Session, inc: Incident, user: User, cfg: SiteConfig | None = None) -> IncidentDetail:
    call = session.get(Call, inc.call_id) if inc.call_id else None
    base = public(inc, user, cfg).model_dump()
    main = session.scalar(select(Incident).where(Incident.id == inc.duplicate_of)) \
        if inc.duplicate_of else None
    dups = session.scalars(select(Incident).where(Incident.duplicate_of == inc.id)
                           .order_by(Incident.pk).options(lazyload(Incident.transitions))).all()
    return IncidentDetail(**base, timeline=inc.transitions, deliveries=_deliveries(session, inc),
                          call=CallPublic.model_validate(call) if call else None,
                          main_case=LinkedCase.model_validate(main) if main else None,
                          duplicates=[LinkedCase.model_validate(d) for d in dups])


@router.get("/incidents/{ref}", response_model=IncidentDetail, responses=ERR,
            summary="One incident (by id or case number) with its timeline")
def get_incident(ref: str, session: SessionDep, gw: StateDep, user: CurrentUser) -> IncidentDetail:
    return _detail(session, load(session, ref, user), user, gw.cfg)


@router.post("/incidents/{ref}/transitions", response_model=IncidentDetail, responses=ERR,
             summary="Move an incident on (409 with the reason when not allowed)")
def transition(ref: str, body: TransitionCreate, session: SessionDep, gw: StateDep,
               user: CurrentUser, tasks: BackgroundTasks) -> IncidentDetail:
    inc = load(session, ref, user, lock=True)
    refuse_city_case(gw.cfg, inc)
    actor = user.username
    try:
        if body.to.value in {s.value for s in OpdStep}:
            if user.role == Role.SUPERVISOR:
                raise HTTPException(403, "Supervisor tidak bertindak atas nama OPD / a supervisor "
                                         "cannot acknowledge or resolve for an OPD")
            opd = user.opd if user.role == Role.OPD else body.opd
            if user.role == Role.OPD and body.opd not in (None, user.opd):
                raise HTTPException(403, "Bukan OPD Anda / not your OPD")
            if opd is None and inc.assignments:
                raise IllegalTransition("sebutkan OPD / name the OPD acting (field 'opd')")
            if opd is None:  # phone hand-off case: no OPD clock, case-level step
                lifecycle.move(session, inc, body.to, actor=actor, via="api", note=body.note)
            else:
                lifecycle.opd_step(session, inc, opd, body.to.value, actor=actor, via="api",
                                   note=body.note, responder=body.responder,
                                   responder_kind=body.responder_kind)
        elif user.role == Role.OPD:
            raise HTTPException(403, "OPD hanya menerima/tiba/selesai / OPD users may only "
                                     "acknowledge, report on scene, or resolve")
        elif body.to is Status.DISPATCHED:
            if inc.status != Status.TRIAGED:
                raise IllegalTransition(f"tidak boleh / not allowed: {inc.status} -> dispatched; "
                                        "add OPDs with POST .../assignments")
            if inc.source == "operator" and not inc.caller and inc.lat is None \
                    and not inc.location_label and not inc.area:
                raise place_or_caller()
            opds = body.opds if body.opds is not None else list(
                routing.opds_for(gw.cfg, inc.category, inc.area))
            if not opds and not inc.handoff:  # "dispatched" to nobody would wait forever with OPD "-"
                raise IllegalTransition("pilih paling sedikit satu OPD; kasus tanpa OPD diserahkan lewat "
                                        "telepon / choose at least one OPD; a case no OPD takes is "
                                        "handed off by phone (POST .../handoff)")
            lifecycle.assign(session, gw.cfg, inc, opds, actor=actor, via="api", note=body.note)
            gw.wake.set()
        elif body.to is Status.REJECTED:
            if body.reason is None:
                raise IllegalTransition("alasan wajib / a reason is needed: prank, test or duplicate")
            lifecycle.reject(session, inc, body.reason, actor=actor, via="api", note=body.note)
        elif (inc.assignments and body.to is not Status.CLOSED
              and body.to in lifecycle.ALLOWED[Status(inc.status)]):
            raise IllegalTransition(f"tidak boleh / not allowed: {inc.status} -> {body.to.value}; "
                                    "the OPDs' steps move this case")
        else:
            lifecycle.move(session, inc, body.to, actor=actor, via="api", note=body.note)
    except IllegalTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from None
    session.flush()
    session.expire(inc)
    tasks.add_task(gw.events.publish, "case", id=inc.id)
    return _detail(session, inc, user, gw.cfg)


@router.get("/deliveries", response_model=list[DeliveryPublic], responses=ERR,
            summary="Outbox rows, e.g. ?status=dead for the dead-letter list")
def list_deliveries(session: SessionDep, _user: StaffUser,
                    status_: Annotated[str | None, Query(alias="status",
                                                         pattern="^(pending|delivered|dead)$")] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[DeliveryPublic]:
    q = select(Outbox, Incident.id).outerjoin(Incident, Outbox.incident_pk == Incident.pk)
    if status_:
        q = q.where(Outbox.status == status_)
    out = []
    for row, inc_id in session.execute(q.order_by(Outbox.id.desc()).limit(limit)):
        d = DeliveryPublic.model_validate(row)
        d.incident_id = inc_id
        out.append(d)
    return out


@router.post("/deliveries/{delivery_id}/redispatch", response_model=DeliveryPublic, responses=ERR,
             summary="Send a dead (or delivered) delivery again")
def redispatch_delivery(delivery_id: str, session: SessionDep, gw: StateDep,
                        user: StaffUser) -> DeliveryPublic:
    try:
        row = redispatch(session, delivery_id, actor=user.username)
    except NotFound:
        raise HTTPException(404, "Pengiriman tidak ditemukan / delivery not found") from None
    except IllegalTransition as exc:
        raise HTTPException(409, exc.message) from None
    gw.wake.set()
    return DeliveryPublic.model_validate(row)


CSV_FIELDS = ("case_no", "id", "status", "category", "source", "priority", "device_id", "area",
              "location_label", "received_at", "opds", "first_ack_at", "resolved_at", "escalated",
              "reject_reason", "city")


@router.get("/export/incidents.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}},
            summary="CSV export with the same filters as the list")
def export_csv(session: SessionDep, user: CurrentUser, status_: StatusQ = None,
               category: Category | None = None, opd: StrQ = None, device: StrQ = None,
               since: TimeQ = None, until: TimeQ = None, city: CityQ = None) -> Response:
    q = _filtered(user, status_, category, opd, device, since, until, city).order_by(Incident.pk)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for inc in session.scalars(q.limit(100_000).options(lazyload(Incident.transitions))):
        acks = [a.acknowledged_at for a in inc.assignments if a.acknowledged_at]
        res = [a.resolved_at for a in inc.assignments if a.resolved_at]
        w.writerow([inc.case_no, inc.id, inc.status, inc.category, inc.source, inc.priority,
                    inc.device_id or "", inc.area or "", inc.location_label or "",
                    inc.received_at.isoformat(), " ".join(a.opd for a in inc.assignments),
                    min(acks).isoformat() if acks else "", max(res).isoformat() if res else "",
                    int(inc.escalated), inc.reject_reason or "", inc.city or ""])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="incidents.csv"'})

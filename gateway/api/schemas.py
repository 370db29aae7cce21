"""Request and response models of the API, kept apart from the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.auth import Role
from gateway.lifecycle import DeclineReason, OpdStep, RejectReason, ResponderKind, Status
from protocol.categories import Category
from protocol.fleet import Profile
from protocol.reports import CallType


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignmentPublic(Out):
    opd: str
    dispatched_at: datetime
    acknowledged_at: datetime | None
    on_scene_at: datetime | None
    resolved_at: datetime | None
    sla_ack_min: float | None
    sla_resolve_min: float | None
    ack_escalated_at: datetime | None
    resolve_escalated_at: datetime | None
    status: str = Field(description="dispatched, acknowledged, on_scene, resolved, declined or withdrawn")
    declined_at: datetime | None
    decline_reason: str | None = Field(description="not_ours, no_capacity, duplicate or other")
    decline_note: str | None
    decline_wrong: bool = Field(description="An operator sent the case back after this decline")
    rerouted_at: datetime | None = Field(description="First dispatch to an OPD after this decline")
    responder: str | None = Field(description="Who in the OPD handles it (team, vehicle or person)")
    responder_kind: str | None
    allowed_actions: list[str] = Field(
        default_factory=list,
        description="What this user may do to this OPD's part now: acknowledged, on_scene, "
                    "resolved, declined, responder (OPD steps) and reroute (staff)")


class TransitionPublic(Out):
    from_status: str | None
    to_status: str
    event: str
    at: datetime
    actor: str
    via: str
    opd: str | None
    note: str | None


class IncidentPublic(Out):
    id: str
    case_no: str | None
    status: str
    category: str
    category_label: str = Field("", description="The category in Bahasa Indonesia, for people")
    source: str
    priority: int
    device_id: str | None
    seq: int | None
    lat: float | None
    lon: float | None
    location_label: str | None
    area: str | None
    description: str | None
    caller: str | None
    call_id: str | None
    call_type: str | None = None
    received_at: datetime
    updated_at: datetime
    reject_reason: str | None
    handoff: bool
    escalated: bool
    sla_ack_min: float | None
    sla_resolve_min: float | None
    attention: str | None = Field(description="Why the case waits for an operator, e.g. a decline")
    assignments: list[AssignmentPublic]
    duplicate_of: str | None = Field(None, description="Merged as a duplicate: the id of the main case")
    city: str | None = Field(None, description="A province gateway: the city (slug) whose broker "
                                               "bridged the case up; null at a city gateway")
    city_name: str | None = Field(None, description="That city's name from the site's province.cities")
    suggested_opds: list[str] = Field(
        default_factory=list, description="Before dispatch: the OPDs the routing rules pick (the "
                                          "operator may choose others, field 'opds' of the transition)")
    handoff_to: list[str] = Field(
        default_factory=list, description="A phone hand-off case: the OPDs to phone (e.g. the police "
                                          "without an MoU); their numbers are in GET /api/opds")
    allowed_actions: list[str] = Field(
        default_factory=list,
        description="Case-level steps this user may take now: target statuses (rejected:<reason> "
                    "carries the reason), 'assign' (give the case to more OPDs), 'merge' (POST "
                    ".../merge) and 'handoff' (POST .../handoff)")


class DeliveryAttemptPublic(Out):
    at: datetime
    ok: bool
    http_status: int | None
    error: str | None
    duration_ms: float
    instance: str | None


class DeliveryPublic(Out):
    id: str
    incident_id: str | None = None
    kind: str
    channel: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryPublic):
    attempt_log: list[DeliveryAttemptPublic] = Field(default_factory=list)


class CallPublic(Out):
    id: str
    device_id: str
    seq: int
    direction: str
    number: str | None
    ring_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    answer_s: float | None
    duration_s: float
    end_reason: str
    operator: str | None
    call_type: str | None = None
    received_at: datetime
    city: str | None = Field(None, description="A province gateway: the city that bridged it up")


class LinkedCase(Out):
    id: str
    case_no: str | None
    status: str
    source: str
    caller: str | None
    received_at: datetime


class IncidentDetail(IncidentPublic):
    timeline: list[TransitionPublic]
    deliveries: list[DeliveryDetail]
    call: CallPublic | None
    main_case: LinkedCase | None = Field(None, description="The case this duplicate was merged into")
    duplicates: list[LinkedCase] = Field(default_factory=list, description="Reports merged into this case")


class DeskPublic(BaseModel):
    device: str
    label: str | None
    phase: str = Field(description="idle | ringing | active")
    number: str | None
    call_id: str | None
    operator: str | None
    at: datetime | None = Field(description="When the gateway got this state")
    flagged: bool = Field(description="The number is flagged now (the gateway's list)")


class CallerHistory(BaseModel):
    number: str
    days: int = Field(description="The history's window, days back from now")
    calls: int = Field(description="Calls from this number in the window")
    by_type: dict[str, int] = Field(description="Calls by call type ('untyped' for none yet)")
    open_cases: list[IncidentPublic]
    flagged: bool = Field(False, description="A repeat junk caller: never blocked, shown to the desk")
    flag_offence: int | None = None
    flag_until: datetime | None = Field(None, description="End of a first flag; none: permanent")


class IncidentPage(BaseModel):
    items: list[IncidentPublic]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page")


class CallPage(BaseModel):
    items: list[CallPublic]
    next_cursor: str | None = None


class LocationIn(In):
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    label: str | None = Field(None, max_length=200)
    area: str | None = Field(None, max_length=200)


class IncidentCreate(In):
    """An incident typed in by an operator (source ``operator``)."""

    category: Category
    description: str | None = Field(None, max_length=2000)
    caller: str | None = Field(None, pattern=r"^\+?[0-9*#]{1,20}$")
    location: LocationIn | None = None
    call_id: str | None = Field(None, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")
    call_type: CallType | None = Field(None, description="What the call was; ghost, prank, test and "
                                                         "misdial are stored but never routed")


class CallTypeSet(In):
    """The operator (re)types the call a case came from."""

    call_type: CallType
    note: str | None = Field(None, max_length=2000)


class TransitionCreate(In):
    to: Status = Field(description="Target status")
    opd: str | None = Field(None, max_length=32,
                            description="For acknowledged/on_scene/resolved: the OPD acting (staff only)")
    opds: list[str] | None = Field(None, max_length=20,
                                   description="For dispatched: OPDs (default: the routing rules)")
    reason: RejectReason | None = Field(None, description="For rejected")
    note: str | None = Field(None, max_length=2000)
    responder: str | None = Field(None, max_length=200, description="For acknowledged: who handles it")
    responder_kind: ResponderKind | None = None


class NoteCreate(In):
    text: str = Field(min_length=1, max_length=2000)


class HandoffCreate(In):
    """The operator phoned a case through to an agency outside the system."""

    to: str | None = Field(None, max_length=32, description="The OPD phoned (e.g. polres), if any")
    note: str = Field(min_length=1, max_length=2000, description="Who took it, e.g. 'Bripka Andi, SPKT'")


class MergeCreate(In):
    """This case is another report of the same event as ``into``."""

    into: str = Field(min_length=1, max_length=32, description="The main case (id or case number)")
    note: str | None = Field(None, max_length=2000)


class AssignCreate(In):
    """Give a case to more OPDs, or re-route one OPD's part to others."""

    opds: list[str] = Field(min_length=1, max_length=20, description="OPDs that get the case")
    withdraw: str | None = Field(None, max_length=32, description="Re-route: the OPD whose part ends")
    note: str | None = Field(None, max_length=2000)


class OpdStepCreate(In):
    """One OPD's step on its part of a case."""

    step: OpdStep
    opd: str | None = Field(None, max_length=32, description="The OPD acting (staff only; OPD users: "
                                                              "their own)")
    reason: DeclineReason | None = Field(None, description="For declined")
    responder: str | None = Field(None, max_length=200,
                                  description="For acknowledged/responder: the team, vehicle or person")
    responder_kind: ResponderKind | None = None
    note: str | None = Field(None, max_length=2000)


class CallbackBody(In):
    note: str | None = Field(None, max_length=2000)
    reason: DeclineReason | None = Field(None, description="For declined")
    responder: str | None = Field(None, max_length=200)
    responder_kind: ResponderKind | None = None


class ContactPublic(Out):
    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None


class OpdPublic(BaseModel):
    id: str
    name: str
    contacts: list[ContactPublic]
    channels: list[str]
    sms: list[str]
    open_cases: int


class DevicePublic(Out):
    """A unit as the registry, the ingest (presence, telemetry) and the fleet
    wing (faults, configuration drift, groups, credentials) know it."""

    id: str
    profile: str
    label: str | None
    area: str | None
    lat: float | None
    lon: float | None
    enabled: bool
    created_at: datetime
    online: bool = Field(description="Last status online and no heartbeat late since (the fleet watch "
                         "clears it on a late heartbeat)")
    last_seen: datetime | None
    last_status: str | None
    status_reason: str | None = Field(None, description="will, shutdown, power_restored, heartbeat_late, "
                                      "disabled ...")
    status_at: datetime | None
    firmware: str | None = Field(description="The version it runs (heartbeat, else status)")
    update: dict[str, Any] | None = Field(None, description="Its last software update report")
    self_test: dict[str, Any] | None = Field(None, description="Its last self-test (time, trigger, ok, "
                                             "failed parts), from its heartbeat")
    signal_dbm: int | None = None
    outbox_depth: int | None = None
    last_telemetry: dict[str, Any] | None
    telemetry_at: datetime | None
    revoked: bool = Field(False, description="Broker credentials revoked (or never issued)")
    faults: list[str] = Field(default_factory=list, description="Open fault episodes")
    config: str = Field("none", description="Configuration drift: none, in_sync, pending, "
                        "unpublished, refused")
    groups: list[str] = Field(default_factory=list)


class DeviceCreate(In):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    profile: Profile
    label: str | None = Field(None, max_length=200)
    area: str | None = Field(None, max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    enabled: bool = True


class DeviceUpdate(In):
    enabled: bool | None = None
    label: str | None = Field(None, max_length=200)
    area: str | None = Field(None, max_length=200)


class LoginRequest(In):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class UserPublic(Out):
    id: int
    username: str
    role: Role
    opd: str | None
    active: bool


class UserCreate(In):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    password: str = Field(min_length=10, max_length=200)
    role: Role
    opd: str | None = Field(None, max_length=32)


class TokenCreate(In):
    name: str = Field(min_length=1, max_length=100)


class TokenPublic(BaseModel):
    token: str = Field(description="Shown once; send as 'Authorization: Bearer <token>'")
    name: str


class Health(BaseModel):
    status: Literal["ok", "not_ready"]
    checks: dict[str, bool] = Field(default_factory=dict)
    roles: list[str] = Field(
        default_factory=list, description="What this instance runs now: ingest and dispatch on every "
        "instance; sla and fleet on exactly one instance of the site")


class Problem(BaseModel):
    detail: str


class DeadLetterPublic(BaseModel):
    """A message the ingest gave up on (``poison``: processing died on it
    twice; ``internal_error``: storing it failed with the database up)."""

    id: int
    topic: str
    device_id: str | None
    reason: str
    attempts: int
    size: int = Field(description="Payload size in bytes")
    received_at: datetime
    payload_base64: str = Field(description="The payload as received (first 64 KiB)")
    payload_text: str = Field(description="The payload as UTF-8 text, undecodable bytes replaced, "
                                          "cut at 4096 characters")

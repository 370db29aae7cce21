"""Database tables (SQLAlchemy 2). API request/response models live apart
in ``gateway.api.schemas``; migrations in ``gateway/store/migrations``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gateway.clock import as_utc, utcnow
from gateway.store.durations import micros_sql


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        v = as_utc(value)
        return v.replace(tzinfo=None) if v is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value)


class Base(DeclarativeBase):
    pass


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    profile: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200))
    area: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))
    #: presence as the fleet watch sees it: set by status and every sign of life
    #: (ingest), cleared by the unit's will or a late heartbeat (gateway.fleet.health)
    online: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    status_reason: Mapped[str | None] = mapped_column(String(32))
    boot_id: Mapped[str | None] = mapped_column(String(64))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    firmware: Mapped[str | None] = mapped_column(String(200))
    last_telemetry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    telemetry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: panels: the last DeskState (call ringing/active at the desk), for the console
    desk: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    desk_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status", "status"),
        Index("ix_incidents_category", "category"),
        Index("ix_incidents_received", "received_at"),
        Index("ix_incidents_device", "device_id"),
        Index("ix_incidents_caller", "caller"),
        Index("ix_incidents_duplicate_of", "duplicate_of"),
        Index("ix_incidents_updated", "updated_at"),
        # the KPIs' counts by category and status read this index alone (migration 0004)
        Index("ix_incidents_kpi", "received_at", "category", "status"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(26), unique=True)
    case_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    device_id: Mapped[str | None] = mapped_column(String(63))
    seq: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_label: Mapped[str | None] = mapped_column(String(200))
    area: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    caller: Mapped[str | None] = mapped_column(String(24))
    call_id: Mapped[str | None] = mapped_column(String(26))
    button: Mapped[str | None] = mapped_column(String(200))
    #: protocol.reports.CallType of the call the case came from (None: not from a call)
    call_type: Mapped[str | None] = mapped_column(String(16))
    device_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: why the case waits for an operator ("declined by psc119: not_ours"); cleared on re-route
    attention: Mapped[str | None] = mapped_column(String(300))
    sla_ack_min: Mapped[float | None] = mapped_column(Float)
    sla_resolve_min: Mapped[float | None] = mapped_column(Float)
    #: merged as a duplicate: the id of the case it was merged into (rejected, reason duplicate)
    duplicate_of: Mapped[str | None] = mapped_column(String(26))
    #: a province gateway: the city whose broker bridged it up (None: this site's own unit)
    city: Mapped[str | None] = mapped_column(String(63), index=True)

    transitions: Mapped[list[Transition]] = relationship(
        back_populates="incident", order_by="Transition.pk", lazy="selectin"
    )
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="incident", order_by="Assignment.pk", lazy="selectin"
    )


class Transition(Base):
    """Audit row: every status change and OPD step, who, when, via what."""

    __tablename__ = "transitions"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_pk: Mapped[int] = mapped_column(ForeignKey("incidents.pk"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    #: status | acknowledge | on_scene | resolve | escalation | dispatch | redispatch
    event: Mapped[str] = mapped_column(String(16), default="status")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    via: Mapped[str] = mapped_column(String(32))
    opd: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[Incident] = relationship(back_populates="transitions")


class Assignment(Base):
    """One case given to one OPD: the clock the OPD's KPIs are measured on."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("incident_pk", "opd"), Index("ix_assignments_opd", "opd"),
                      Index("ix_assignments_dispatched", "dispatched_at"),
                      # the KPIs' exact medians read one band of these (migration 0005_kpi_rollups)
                      Index("ix_assignments_ack_rank", "opd", "ack_us", "dispatched_at", "status"),
                      Index("ix_assignments_resolve_rank", "opd", "resolve_us", "dispatched_at", "status"),
                      Index("ix_assignments_declined", "declined_at"),
                      Index("ix_assignments_reroute_rank", "opd", "reroute_us", "declined_at"))

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_pk: Mapped[int] = mapped_column(ForeignKey("incidents.pk"))
    opd: Mapped[str] = mapped_column(String(32))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_ack_min: Mapped[float | None] = mapped_column(Float)
    sla_resolve_min: Mapped[float | None] = mapped_column(Float)
    ack_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: dispatched | acknowledged | on_scene | resolved | declined | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="dispatched")
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(String(16))
    decline_note: Mapped[str | None] = mapped_column(Text)
    #: an operator sent the case back to an OPD that had declined it
    decline_wrong: Mapped[bool] = mapped_column(Boolean, default=False)
    #: first dispatch to another OPD after this decline (KPI: decline -> re-dispatch)
    rerouted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responder: Mapped[str | None] = mapped_column(String(200))
    responder_kind: Mapped[str | None] = mapped_column(String(16))  # team | vehicle | person
    #: microseconds dispatch -> acknowledged / resolved, kept by the database (generated
    #: columns, gateway/store/durations.py; the DDL is migration 0004's, per database)
    ack_us: Mapped[int | None] = mapped_column(
        BigInteger, Computed(micros_sql("sqlite", "dispatched_at", "acknowledged_at"), persisted=True))
    resolve_us: Mapped[int | None] = mapped_column(
        BigInteger, Computed(micros_sql("sqlite", "dispatched_at", "resolved_at"), persisted=True))
    #: microseconds decline -> re-dispatch (migration 0006_reroute_us: VIRTUAL on SQLite, STORED
    #: on PostgreSQL; its index keeps the values either way)
    reroute_us: Mapped[int | None] = mapped_column(
        BigInteger, Computed(micros_sql("sqlite", "declined_at", "rerouted_at"), persisted=False))

    incident: Mapped[Incident] = relationship(back_populates="assignments")


class EscalationClaim(Base):
    """One escalation fired: the primary key is the claim, so with several
    gateway instances each level fires once (the loser's INSERT fails)."""

    __tablename__ = "escalation_claims"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # "a<pk>:<level>" | "i<pk>:triage"
    incident_pk: Mapped[int] = mapped_column(ForeignKey("incidents.pk"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    instance: Mapped[str | None] = mapped_column(String(100))


class Outbox(Base):
    """Transactional outbox: written with the case, delivered after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    incident_pk: Mapped[int | None] = mapped_column(ForeignKey("incidents.pk"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # dispatch | escalation
    channel: Mapped[str] = mapped_column(String(16))  # webhook | mqtt
    target: Mapped[str] = mapped_column(String(32))  # OPD id, or "escalation"
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[str] = mapped_column(ForeignKey("outbox.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    instance: Mapped[str | None] = mapped_column(String(100))


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_device", "device_id"), Index("ix_calls_received", "received_at"),
                      Index("ix_calls_number", "number", "received_at"),
                      # the KPIs' call figures read this index alone (migration 0004)
                      Index("ix_calls_kpi", "received_at", "direction", "answer_s", "end_reason",
                            "call_type"),
                      Index("ix_calls_answer_rank", "direction", "answer_s", "received_at"))

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(63))
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(16))
    number: Mapped[str | None] = mapped_column(String(24))
    ring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_s: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    end_reason: Mapped[str] = mapped_column(String(16))
    operator: Mapped[str | None] = mapped_column(String(200))
    #: protocol.reports.CallType: from the record, or from the case typed for this call
    call_type: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: a province gateway: the city whose broker bridged it up (None: this site's own unit)
    city: Mapped[str | None] = mapped_column(String(63), index=True)


class FlaggedNumber(Base):
    """One flag episode of a number. Active while not lifted and not past
    ``expires_at`` (None: permanent, a repeat offence). Rows are never
    deleted: the history of flags decides first vs. repeat offence."""

    __tablename__ = "flagged_numbers"
    __table_args__ = (Index("ix_flagged_number", "number"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(24))
    offence: Mapped[int] = mapped_column(Integer)  # 1 = first flag (timed), 2+ = permanent
    calls: Mapped[int] = mapped_column(Integer)  # junk calls that triggered it
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(64))
    lift_reason: Mapped[str | None] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    opd: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """Bearer token for machines; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """Browser session; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IngestAttempt(Base):
    """A message the ingest began to process and has not finished (by the
    SHA-256 of topic and payload). Committed before processing, so a
    message that kills the process is recognised when the broker hands it
    to the restarted gateway."""

    __tablename__ = "ingest_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PoisonMessage(Base):
    """Dead letter of the ingest: a message that killed processing twice
    (``poison``) or broke the code (``internal_error``), kept for a human."""

    __tablename__ = "poison_messages"
    __table_args__ = (Index("ix_poison_received", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(255))
    device_id: Mapped[str | None] = mapped_column(String(63))
    reason: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


# the fleet wing's tables share this metadata (one schema, one Alembic history)
from gateway.store import models_fleet as _models_fleet  # noqa: E402,F401
from gateway.store import models_kpi as _models_kpi  # noqa: E402,F401
from gateway.store import models_province as _models_province  # noqa: E402,F401

"""The fleet wing's tables (``gateway.fleet``): credentials metadata, groups,
desired and reported configuration, commands, fault episodes, events and
staged rollouts. Presence is not here: it is the ``devices`` row the ingest
keeps. Timestamps are ISO-8601 UTC text (the fleet's SQL compares them as
text on SQLite and PostgreSQL alike); flags are 0/1 integers for the same
reason. Migration: ``0004_fleet``."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base


class FleetCredential(Base):
    __tablename__ = "fleet_credentials"
    username: Mapped[str] = mapped_column(String(63), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # unit | service
    hash: Mapped[str | None] = mapped_column(Text)
    access: Mapped[str | None] = mapped_column(Text)
    revoked: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[str] = mapped_column(String(40))


class FleetGroup(Base):
    __tablename__ = "fleet_groups"
    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)


class FleetDesired(Base):
    __tablename__ = "fleet_desired"
    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[str] = mapped_column(String(40))
    published_at: Mapped[str | None] = mapped_column(String(40))


class FleetReported(Base):
    __tablename__ = "fleet_reported"
    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(Text)
    refused_version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[str] = mapped_column(String(40))


class FleetFault(Base):
    __tablename__ = "fleet_faults"
    __table_args__ = (
        # one open episode per device and fault, enforced by the database
        Index("fleet_faults_one_open", "device", "fault", unique=True,
              sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(63))
    fault: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text, server_default=text("''"))
    opened_at: Mapped[str] = mapped_column(String(40))
    closed_at: Mapped[str | None] = mapped_column(String(40))
    notified_open: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    notified_close: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class FleetEvent(Base):
    __tablename__ = "fleet_events"
    __table_args__ = (Index("ix_fleet_events_device", "device", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, server_default=text("''"))
    at: Mapped[str] = mapped_column(String(40))


class FleetCommand(Base):
    __tablename__ = "fleet_commands"
    __table_args__ = (Index("ix_fleet_commands_state", "state", "device"),)
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    device: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(32))
    args: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str | None] = mapped_column(String(40))
    timeout_s: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[str | None] = mapped_column(String(40))
    delivered_at: Mapped[str | None] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class FleetRollout(Base):
    __tablename__ = "fleet_rollouts"
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    waves: Mapped[str] = mapped_column(Text)
    abort_pct: Mapped[float] = mapped_column(Float)
    wave_timeout_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    wave: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40))


class FleetRolloutUnit(Base):
    __tablename__ = "fleet_rollout_units"
    rollout: Mapped[str] = mapped_column(String(26), primary_key=True)
    device: Mapped[str] = mapped_column(String(63), primary_key=True)
    wave: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    command_id: Mapped[str | None] = mapped_column(String(26))
    error: Mapped[str | None] = mapped_column(Text)
    offered_at: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[str] = mapped_column(String(40))

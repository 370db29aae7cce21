"""The KPI rollups: per local day (the site's time zone) sums of what the
mayor's dashboard shows, so a year's dashboard reads a few thousand rows
instead of a million (``gateway.kpi_rollup``). ``day`` is the local date's
proleptic ordinal (``date.toordinal()``). Every table is derived: it can be
dropped and rebuilt from the cases (``siaga gateway rollups --rebuild``).

``kpi_dirty``: UTC days whose rows changed since their rollup was built,
appended by database triggers in the writer's own transaction (migration
``0005_kpi_rollups``); a dirty day is read from the raw rows until the
rollup is refreshed. ``kpi_meta``: what the rollups were built for (time
zone, band edges); a mismatch means raw reads until a rebuild.
Migration: ``0005_kpi_rollups``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base

#: SQLite: the day tables are clustered by their key (a period is one range read)
NO_ROWID = {"sqlite_with_rowid": False}


class KpiMeta(Base):
    __tablename__ = "kpi_meta"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class KpiDirty(Base):
    __tablename__ = "kpi_dirty"
    __table_args__ = (Index("ix_kpi_dirty_day_tx", "day", "tx"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    #: UTC day (days since 1970-01-01) of a changed row's key timestamp
    day: Mapped[int] = mapped_column(Integer)
    #: PostgreSQL: the marking transaction (``txid_current()``), so its trigger
    #: finds its own mark through the index (migration 0008); SQLite: NULL
    tx: Mapped[int | None] = mapped_column(BigInteger)


class KpiDayAssignment(Base):
    """Per (local day of dispatch, OPD): the OPD table's counts. ``n`` ..
    ``res_ok``: parts neither declined nor re-routed away; ``*_olim``: still
    open with an SLA limit, ``*_olim_max`` the largest such limit (minutes)."""

    __tablename__ = "kpi_day_assignments"
    __table_args__ = NO_ROWID
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    opd: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    open: Mapped[int] = mapped_column(Integer)
    esc: Mapped[int] = mapped_column(Integer)
    ack_done: Mapped[int] = mapped_column(Integer)
    ack_dec: Mapped[int] = mapped_column(Integer)
    ack_ok: Mapped[int] = mapped_column(Integer)
    res_done: Mapped[int] = mapped_column(Integer)
    res_dec: Mapped[int] = mapped_column(Integer)
    res_ok: Mapped[int] = mapped_column(Integer)
    ack_olim: Mapped[int] = mapped_column(Integer)
    res_olim: Mapped[int] = mapped_column(Integer)
    ack_olim_max: Mapped[float | None] = mapped_column(Float)
    res_olim_max: Mapped[float | None] = mapped_column(Float)
    withdrawn: Mapped[int] = mapped_column(Integer)


class KpiDayHistogram(Base):
    """Per (local day, clock, OPD, band): how many durations fall in the
    band (``gateway.kpi_rollup.EDGES``); clock 0 ack, 1 resolve (by dispatch
    day), 2 112 answer (OPD ''), 3 decline to re-dispatch (by decline day)."""

    __tablename__ = "kpi_day_histograms"
    __table_args__ = NO_ROWID
    clock: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    opd: Mapped[str] = mapped_column(String(32), primary_key=True)
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class KpiDayIncident(Base):
    __tablename__ = "kpi_day_incidents"
    __table_args__ = NO_ROWID
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class KpiDayHour(Base):
    """Incidents per (local day, local hour): the heat map and hours of day."""

    __tablename__ = "kpi_day_hours"
    __table_args__ = NO_ROWID
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class KpiDayCall(Base):
    """Incoming calls per (local day, call type, end reason; '' for none);
    ``b0``..``b6``: answered calls per answer band (kpi_charts.ANSWER_BANDS)."""

    __tablename__ = "kpi_day_calls"
    __table_args__ = NO_ROWID
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    end_reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    w15: Mapped[int] = mapped_column(Integer)
    w20: Mapped[int] = mapped_column(Integer)
    b0: Mapped[int] = mapped_column(Integer)
    b1: Mapped[int] = mapped_column(Integer)
    b2: Mapped[int] = mapped_column(Integer)
    b3: Mapped[int] = mapped_column(Integer)
    b4: Mapped[int] = mapped_column(Integer)
    b5: Mapped[int] = mapped_column(Integer)
    b6: Mapped[int] = mapped_column(Integer)


class KpiDayDecline(Base):
    """Declines per (local day of the decline, OPD, reason ('' for none))."""

    __tablename__ = "kpi_day_declines"
    __table_args__ = NO_ROWID
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    opd: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    wrong: Mapped[int] = mapped_column(Integer)
    rerouted: Mapped[int] = mapped_column(Integer)


def _month_twin(day_model: type[Base]) -> type[Base]:
    """The month table of a day table: the same columns, ``day`` holding the
    ordinal of the month's first local day, each row the sum of the month's
    day rows (the ``*_olim_max`` columns their largest). Kept with its days
    in the same transaction (``gateway.kpi_rollup_months``); a year's sums
    read ~12 rows where they read ~365 (migration ``0007_kpi_months``)."""
    table: Any = day_model.__table__
    attrs: dict[str, object] = {
        "__tablename__": table.name.replace("kpi_day_", "kpi_month_"), "__table_args__": NO_ROWID,
        "__doc__": f"Per month: the sums of {table.name} (gateway.kpi_rollup_months)."}
    for c in table.columns:
        attrs[c.name] = mapped_column(c.type, primary_key=c.primary_key, nullable=c.nullable)
    return type(day_model.__name__.replace("KpiDay", "KpiMonth"), (Base,), attrs)


KpiMonthAssignment = _month_twin(KpiDayAssignment)
KpiMonthHistogram = _month_twin(KpiDayHistogram)
KpiMonthIncident = _month_twin(KpiDayIncident)
KpiMonthHour = _month_twin(KpiDayHour)
KpiMonthCall = _month_twin(KpiDayCall)
KpiMonthDecline = _month_twin(KpiDayDecline)


class KpiMonthMedian(Base):
    """Per (clock, month, OPD): the exact median of the month's durations,
    as the middle one or two values (``lo``, ``hi``; equal for an odd ``n``)
    so a reader computes it exactly as from the rows. The dashboard's trend
    over a year reads its whole months here instead of one band read per
    month and OPD (``gateway.kpi_rollup_months``; migration ``0007_kpi_months``)."""

    __tablename__ = "kpi_month_medians"
    __table_args__ = NO_ROWID
    clock: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    opd: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    lo: Mapped[int] = mapped_column(BigInteger)
    hi: Mapped[int] = mapped_column(BigInteger)

"""Durations the database keeps: migration 0004_kpi_durations gives
assignments stored before it their ``ack_us`` / ``resolve_us``, migration
0006_reroute_us their ``reroute_us`` (decline -> re-dispatch; VIRTUAL on
SQLite, the assignments' KPI triggers untouched), exact to the microsecond;
later writes keep them current, and both go back down."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from gateway.store import kpi_triggers
from gateway.store.db import Database, alembic_config

T0 = datetime(2026, 11, 1, 10, 1, 0, 250_000)


@pytest.fixture
def db(db_url):
    d = Database(db_url)
    yield d
    d.dispose()


def _old_case(c, status: str) -> None:
    c.execute(text("INSERT INTO incidents (pk, id, category, source, priority, status, received_at, "
                   "updated_at, handoff, escalated) VALUES (1, '01JOLDCASE0000000000000000', 'fire', "
                   "'operator', 1, :s, :t, :t, :f, :f)"), {"s": status, "t": T0, "f": False})


def test_existing_assignments_get_their_durations(db):
    command.upgrade(alembic_config(db.engine), "0004_duplicates")
    t0 = T0
    with db.engine.begin() as c:
        _old_case(c, "on_scene")
        for pk, opd, ack, res in ((1, "damkar", datetime(2026, 11, 1, 10, 2, 30, 1), datetime(2026, 12, 1)),
                                  (2, "bpbd", None, None)):
            c.execute(text("INSERT INTO assignments (pk, incident_pk, opd, dispatched_at, acknowledged_at, "
                           "resolved_at, status, decline_wrong) "
                           "VALUES (:pk, 1, :opd, :d, :a, :r, 'dispatched', :f)"),
                      {"pk": pk, "opd": opd, "d": t0, "a": ack, "r": res, "f": False})
    db.migrate()
    assert {"ix_incidents_kpi"} <= {i["name"] for i in inspect(db.engine).get_indexes("incidents")}
    assert {"ix_calls_kpi"} <= {i["name"] for i in inspect(db.engine).get_indexes("calls")}
    with db.engine.begin() as c:
        rows = c.execute(text("SELECT opd, ack_us, resolve_us FROM assignments ORDER BY pk")).all()
        # 1 min 29.750001 s to acknowledge; 29 d 13:58:59.75 to resolve
        assert [tuple(r) for r in rows] == [("damkar", 89_750_001, 2_555_939_750_000), ("bpbd", None, None)]
        c.execute(text("UPDATE assignments SET acknowledged_at = :a WHERE pk = 2"),
                  {"a": datetime(2026, 11, 1, 10, 1, 0, 250_007)})
        assert c.execute(text("SELECT ack_us FROM assignments WHERE pk = 2")).scalar() == 7
    command.downgrade(alembic_config(db.engine), "0004_duplicates")
    cols = {c["name"] for c in inspect(db.engine).get_columns("assignments")}
    assert "ack_us" not in cols and "resolve_us" not in cols and "decline_wrong" in cols
    assert "ix_calls_kpi" not in {i["name"] for i in inspect(db.engine).get_indexes("calls")}


def _triggers(db: Database) -> int:
    with db.engine.begin() as c:
        return c.execute(text(kpi_triggers.present_sql(db.engine.dialect.name))).scalar()


def _index_cols(db: Database) -> list[str]:
    return next(i["column_names"] for i in inspect(db.engine).get_indexes("assignments")
                if i["name"] == "ix_assignments_reroute_rank")


def test_declined_parts_get_their_reroute_time(db):
    command.upgrade(alembic_config(db.engine), "0005_kpi_rollups")
    t0 = T0
    with db.engine.begin() as c:
        _old_case(c, "dispatched")
        for pk, opd, declined, back in ((1, "dinas_pu", datetime(2026, 11, 1, 10, 3, 0, 1),
                                         datetime(2026, 11, 1, 10, 5, 30, 0)),
                                        (2, "damkar", None, None)):
            c.execute(text("INSERT INTO assignments (pk, incident_pk, opd, dispatched_at, status, "
                           "declined_at, rerouted_at, decline_wrong) "
                           "VALUES (:pk, 1, :opd, :d, 'declined', :x, :b, :f)"),
                      {"pk": pk, "opd": opd, "d": t0, "x": declined, "b": back, "f": False})
    db.migrate()
    assert _index_cols(db) == ["opd", "reroute_us", "declined_at"]
    assert _triggers(db) == kpi_triggers.expected_count(db.engine.dialect.name)
    with db.engine.begin() as c:
        rows = c.execute(text("SELECT opd, reroute_us FROM assignments ORDER BY pk")).all()
        assert [tuple(r) for r in rows] == [("dinas_pu", 149_999_999), ("damkar", None)]
        c.execute(text("DELETE FROM kpi_dirty"))
    with db.engine.begin() as c:  # a later write keeps it current and marks its day (the trigger)
        c.execute(text("UPDATE assignments SET declined_at = :x, rerouted_at = :b WHERE pk = 2"),
                  {"x": datetime(2026, 11, 2, 8, 0, 0, 0), "b": datetime(2026, 11, 2, 8, 0, 0, 7)})
    with db.engine.begin() as c:
        assert c.execute(text("SELECT reroute_us FROM assignments WHERE pk = 2")).scalar() == 7
        assert c.execute(text("SELECT count(*) FROM kpi_dirty")).scalar() >= 1
    command.downgrade(alembic_config(db.engine), "0005_kpi_rollups")
    assert "reroute_us" not in {c["name"] for c in inspect(db.engine).get_columns("assignments")}
    assert _index_cols(db) == ["opd", "declined_at", "rerouted_at"]
    assert _triggers(db) == kpi_triggers.expected_count(db.engine.dialect.name)

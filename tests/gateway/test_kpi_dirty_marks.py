"""KPI dirty marks (migration 0008_kpi_dirty_tx): on PostgreSQL a writing
transaction marks each day it touches once, and finds its own mark through
the index on (day, tx) instead of reading every mark of the day; and it goes
back down to the xmin triggers.
SQLite keeps one mark per day. Both engines."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from gateway.store import kpi_triggers
from gateway.store.db import Database, alembic_config

DAY = datetime(2026, 11, 1, 10, 0, 0)


@pytest.fixture
def db(db_url):
    d = Database(db_url)
    yield d
    d.dispose()


def _case(c, pk: int, at: datetime = DAY) -> None:
    c.execute(text("INSERT INTO incidents (pk, id, category, source, priority, status, received_at, "
                   "updated_at, handoff, escalated) VALUES (:pk, :id, 'fire', 'operator', 1, 'new', "
                   ":t, :t, :f, :f)"), {"pk": pk, "id": f"01JMARK{pk:019d}", "t": at, "f": False})


def _marks(db: Database) -> list[tuple]:
    with db.engine.begin() as c:
        return [tuple(r) for r in c.execute(text("SELECT day, tx FROM kpi_dirty ORDER BY id"))]


def _plan(db: Database) -> str:
    """How the PostgreSQL trigger's lookup is run (with many marks of the day)."""
    with db.engine.begin() as c:
        c.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(r[0] for r in c.execute(text(
            "EXPLAIN SELECT 1 FROM kpi_dirty WHERE day = 20393 AND tx = txid_current()")))


def test_one_mark_per_day_and_transaction_found_by_index(db):
    pg = db.engine.dialect.name == "postgresql"
    command.upgrade(alembic_config(db.engine), "0007_kpi_months")
    with db.engine.begin() as c:
        _case(c, 1)
    old = _marks_day(db)
    assert len(old) == 1  # made by the 0005 triggers
    db.migrate()
    assert {"ix_kpi_dirty_day_tx"} <= {i["name"] for i in inspect(db.engine).get_indexes("kpi_dirty")}
    assert _marks(db) == []  # the rollups were built after the migration: no day is dirty
    with db.engine.begin() as c:  # one transaction, three cases of one day, one of the next
        for pk in (2, 3, 4):
            _case(c, pk)
        _case(c, 5, datetime(2026, 11, 2, 1, 0))
        tx = c.execute(text("SELECT txid_current()")).scalar() if pg else None
    with db.engine.begin() as c:
        _case(c, 6)
    marks = _marks(db)
    day = int(DAY.timestamp()) // 86400
    if pg:  # one more mark per transaction and day, each naming its transaction
        assert marks[:2] == [(day, tx), (day + 1, tx)]
        assert len(marks) == 3 and marks[2][0] == day and marks[2][1] not in (None, tx)
        assert "ix_kpi_dirty_day_tx" in _plan(db)
    else:  # SQLite: the day's mark is there already; the next day gets one
        assert marks == [(day, None), (day + 1, None)]
    assert _triggers(db) == kpi_triggers.expected_count(db.engine.dialect.name)
    command.downgrade(alembic_config(db.engine), "0007_kpi_months")
    assert "tx" not in {c["name"] for c in inspect(db.engine).get_columns("kpi_dirty")}
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM kpi_dirty"))
        _case(c, 7)
        _case(c, 8)
    assert len(_marks_day(db)) == 1  # the old triggers still mark, once
    assert _triggers(db) == kpi_triggers.expected_count(db.engine.dialect.name)


def _marks_day(db: Database) -> list[int]:
    with db.engine.begin() as c:
        return [r[0] for r in c.execute(text("SELECT day FROM kpi_dirty"))]


def _triggers(db: Database) -> int:
    with db.engine.begin() as c:
        return c.execute(text(kpi_triggers.present_sql(db.engine.dialect.name))).scalar()

"""Pipelined transactions (issue 16): on PostgreSQL the intake's writes and
its reads go to the server in one round trip (psycopg's pipeline mode). A
connection goes back to the pool only out of pipeline mode (another thread
may take it at once). When a statement in it fails, the caller gets the
usual SQLAlchemy error, and the connection is never handed back to the pool
in a broken state: every later transaction works. Both engines (on SQLite
the pipeline changes nothing, and the same error comes back)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway import intake_reads
from gateway.store.db import Database
from gateway.store.models import Device
from tests.gateway.support import register


def every_connection_works(db: Database) -> None:
    """Check out as many sessions at once as the pool keeps, and use each:
    a broken connection left in the pool would fail one of them. (SQLite's
    sessions each hold the write lock: one at a time.)"""
    n = db.engine.pool.size() if db.engine.dialect.name == "postgresql" else 1
    sessions = [db.new_session() for _ in range(n)]
    try:
        for s in sessions:
            assert s.scalar(select(Device.id).where(Device.id == "box-01")) == "box-01"
    finally:
        for s in sessions:
            s.close()


def test_a_connection_goes_back_to_the_pool_out_of_pipeline_mode(migrated_db):
    db = migrated_db
    register(db, "box-01")
    states: list[int] = []

    def checkin(dbapi_conn, _record) -> None:
        raw = getattr(dbapi_conn, "driver_connection", dbapi_conn)
        if raw is not None and hasattr(raw, "pgconn"):
            states.append(int(raw.pgconn.pipeline_status))  # 0: off

    event.listen(db.engine, "checkin", checkin)
    try:
        with db.session() as s, db.pipeline(s):
            s.execute(insert(Device).values(id="box-02", profile="field", enabled=True))
            s.add(Device(id="box-03", profile="field"))  # an ORM write, flushed in the pipeline
        with pytest.raises(IntegrityError), db.session() as s, db.pipeline(s):
            s.execute(insert(Device).values(id="box-01", profile="field", enabled=True))
    finally:
        event.remove(db.engine, "checkin", checkin)
    if db.engine.dialect.name == "postgresql":
        assert states and set(states) == {0}, states
    with db.session() as s:  # both writes of the first transaction, committed together
        assert sorted(s.scalars(select(Device.id))) == ["box-01", "box-02", "box-03"]


def test_a_failed_pipelined_write_raises_and_leaves_the_pool_sound(migrated_db):
    db = migrated_db
    register(db, "box-01")
    for _ in range(3):  # more than once: the same pooled connection comes back
        with pytest.raises(IntegrityError), db.session() as s, db.pipeline(s):
            s.execute(insert(Device).values(id="box-02", profile="field", enabled=True))
            s.execute(insert(Device).values(id="box-01", profile="field", enabled=True))  # taken
        every_connection_works(db)
    with db.session() as s:  # nothing of the failed transactions stayed
        assert sorted(s.scalars(select(Device.id))) == ["box-01"]
    with db.session() as s, db.pipeline(s):  # and the pipeline still commits
        s.execute(insert(Device).values(id="box-02", profile="field", enabled=True))
    with db.session() as s:
        assert sorted(s.scalars(select(Device.id))) == ["box-01", "box-02"]


def test_a_failed_pipelined_read_raises_and_leaves_the_pool_sound(migrated_db):
    db = migrated_db
    register(db, "box-01")
    with db.session() as s:  # the reads now name a table that is not there
        s.execute(text("ALTER TABLE calls RENAME TO calls_away"))
    for _ in range(3):
        with pytest.raises(DBAPIError if db.engine.dialect.name == "sqlite" else Exception), \
                db.session() as s:
            intake_reads.read(s, ["box-01"], [("01JD0000000000000000000001", "box-01")],
                              ["01JD0000000000000000000002"])
        every_connection_works(db)
    with db.session() as s:
        s.execute(text("ALTER TABLE calls_away RENAME TO calls"))
    with db.session() as s:
        known = intake_reads.read(s, ["box-01"], [("01JD0000000000000000000001", "box-01")],
                                  ["01JD0000000000000000000002"])
    assert set(known.devices) == {"box-01"} and not known.incidents and not known.calls

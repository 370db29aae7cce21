"""The dispatcher's bookkeeping transactions on PostgreSQL commit without
waiting for their WAL flush, for themselves alone: the intake's commits (its
Acks promise durability) stay synchronous. Both engines."""

from __future__ import annotations

from sqlalchemy import text

from gateway.dispatch import worker


def test_only_the_dispatchers_transactions_skip_the_flush(migrated_db, monkeypatch):
    db = migrated_db
    pg = db.engine.dialect.name == "postgresql"
    if pg:  # the test cluster runs without synchronous commits: this database with them, as in production
        with db.engine.begin() as c:
            c.execute(text("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = on', "
                           "current_database()); END $$"))
        db.engine.dispose()
        with db.session() as s:
            assert s.execute(text("SHOW synchronous_commit")).scalar() == "on"
    with db.session() as s:
        worker._bookkeeping(s)
        if pg:
            assert s.execute(text("SHOW synchronous_commit")).scalar() == "off"
    with db.session(urgent=True) as s:  # the next transaction on the pool's connection
        if pg:
            assert s.execute(text("SHOW synchronous_commit")).scalar() == "on"
    # the loop's step goes through it (record and claim in one transaction)
    seen = []
    monkeypatch.setattr(worker, "_bookkeeping", lambda s: seen.append(s) or None)
    from types import SimpleNamespace

    d = worker.Dispatcher.__new__(worker.Dispatcher)
    d.db, d.workers, d._inflight, d.instance, d.lease_s = db, 8, 0, "t", 60.0
    d._done = __import__("queue").SimpleQueue()
    d._pool = SimpleNamespace(submit=lambda *_a: None)
    assert d._step() is False and len(seen) == 1

"""The intake's commits on SQLite (issue 22, issue 16): they never run a WAL
checkpoint (a thread does, passively, without waiting for readers), an open
reader neither blocks them nor the checkpointer, and waiting for the write
lock the intake goes before background writers (an SLA sweep's chunks)."""

from __future__ import annotations

import sqlite3
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import Incident
from gateway.store.wal import WriteLock
from protocol.codec import encode
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import incident, register, site_config, wait_for

NO_BROKER = SimpleNamespace(host="127.0.0.1", port=1)
CASES = 120  # ~25 WAL pages a case: well past SQLite's automatic checkpoint at 1,000


def make_db(tmp_path, background: bool, interval_s: float = 3600) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'gateway.db'}", background_checkpoints=background)
    if db.checkpointer is not None:
        # 3600: only the checkpoints the test asks for (set before the first write: a
        # thread already waiting out one interval does not see a later change)
        db.checkpointer.interval_s = interval_s
    db.migrate()
    register(db, "box-01")
    return db


def ingest(tmp_path, db: Database, n: int) -> None:
    intake = Intake(db, site_config(tmp_path, NO_BROKER), Metrics())
    for i in range(n):  # one commit each, as single presses arrive
        intake.process([Message(device_topic("box-01", DeviceTopic.INCIDENT),
                                encode(incident("box-01", seq=i + 1, category="other")))])


def wal_pages(db: Database) -> int:
    """Frames in the WAL now (a passive checkpoint reports them)."""
    with sqlite3.connect(db.url.database) as c:
        return c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_intake_commits_run_no_checkpoint(tmp_path):
    db = make_db(tmp_path, background=True)
    try:
        with db.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        ingest(tmp_path, db, CASES)
        # had a commit checkpointed, the WAL would have started over below 1,000
        busy, frames, copied = db.checkpointer.checkpoint()
        assert busy == 0 and frames > 1000 and copied == frames
        ingest(tmp_path, db, 2)  # the next writer starts the WAL over
        assert wal_pages(db) < 200
    finally:
        db.dispose()


def test_without_background_checkpoints_a_commit_does_checkpoint(tmp_path):
    """The control: SQLite's default, as short-lived tools keep it."""
    db = make_db(tmp_path, background=False)
    try:
        ingest(tmp_path, db, CASES)
        # started over at SQLite's 1,000-page checkpoint (without it ~25 pages x 120 cases); the
        # commit that checkpointed may leave a few pages past 1,000 until the next one writes
        assert wal_pages(db) < 1100
    finally:
        db.dispose()


def test_open_reader_blocks_neither_commits_nor_the_checkpointer(tmp_path):
    db = make_db(tmp_path, background=True)
    try:
        ingest(tmp_path, db, 5)
        with db.read_session() as r:
            before = r.scalar(select(func.count()).select_from(Incident))
            ingest(tmp_path, db, 40)  # commits while the snapshot is open
            _busy, frames, copied = db.checkpointer.checkpoint()  # returns, does not wait
            assert copied < frames  # what the reader's snapshot still needs stays in the WAL
            assert r.scalar(select(func.count()).select_from(Incident)) == before
        _busy, frames, copied = db.checkpointer.checkpoint()
        assert copied == frames  # the reader gone, all of it
        with db.read_session() as r:
            assert r.scalar(select(func.count()).select_from(Incident)) == before + 40
    finally:
        db.dispose()


def test_the_checkpointer_thread_follows_writes(tmp_path):
    db = make_db(tmp_path, background=True, interval_s=0.0)
    try:
        runs = db.checkpointer.runs
        ingest(tmp_path, db, 3)
        wait_for(lambda: db.checkpointer.runs > runs, timeout=10)
    finally:
        db.dispose()


def test_urgent_waiter_goes_before_the_others():
    lock = WriteLock()
    order: list[str] = []
    lock.acquire()  # a background writer's transaction in progress

    def waiter(name: str, urgent: bool) -> None:
        assert lock.acquire(urgent=urgent, timeout=30)
        order.append(name)
        lock.release()

    sweep = threading.Thread(target=waiter, args=("sweep", False))
    sweep.start()
    wait_for(lambda: lock.waiting() == 1)
    intake = threading.Thread(target=waiter, args=("intake", True))
    intake.start()
    wait_for(lambda: lock.waiting() == 2)
    lock.release()
    for t in (sweep, intake):
        t.join(30)
    assert order == ["intake", "sweep"]


def test_a_background_writer_cannot_take_the_lock_from_a_waiting_intake():
    """What a plain Lock allowed: the SLA sweep committing chunk after chunk
    re-took it before the waiting intake ran (acks waited seconds)."""
    lock = WriteLock()
    lock.acquire()
    got = threading.Event()

    def intake() -> None:
        assert lock.acquire(urgent=True, timeout=30)
        got.set()
        lock.release()

    t = threading.Thread(target=intake)
    t.start()
    wait_for(lambda: lock.waiting() == 1)
    lock.release()
    # the sweep's next chunk, at once: it must wait for the intake's turn
    assert lock.acquire(timeout=30)
    assert got.is_set()
    lock.release()
    t.join(30)


def test_an_urgent_waiter_that_gives_up_lets_the_others_go():
    lock = WriteLock()
    lock.acquire()
    assert not lock.acquire(urgent=True, timeout=0.05)
    lock.release()
    assert lock.acquire(timeout=1)
    lock.release()


@pytest.mark.parametrize("urgent", [True, False])
def test_session_takes_the_write_lock(tmp_path, urgent):
    db = make_db(tmp_path, background=True)
    try:
        with db.session(urgent=urgent) as s:
            assert db._lock is not None and db._lock.locked()
            s.execute(text("SELECT 1"))
        assert not db._lock.locked()
    finally:
        db.dispose()


def _hold(path: str, held, release) -> None:
    from gateway.store.wal import WriteLock

    lock = WriteLock(path)
    assert lock.acquire()
    held.set()
    release.wait(30)
    lock.release()


def test_writers_of_two_processes_take_turns_on_the_lock_file(tmp_path):
    """A second process (another gateway, a web process) writing the same
    SQLite file: the next writer goes the moment the other lets go, instead of
    SQLite's busy handler sleeping up to 100 ms between tries."""
    import multiprocessing as mp

    from gateway.store.wal import WriteLock

    path = str(tmp_path / "gateway.db-writer.lock")
    ctx = mp.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    other = ctx.Process(target=_hold, args=(path, held, release))
    other.start()
    try:
        assert held.wait(10)
        mine = WriteLock(path)
        assert mine.acquire(timeout=0.1) is False  # the other process holds it
        assert not mine.locked()  # and this process's own lock was given back
        threading.Timer(0.3, release.set).start()
        t0 = time.monotonic()
        assert mine.acquire(urgent=True, timeout=10)
        waited = time.monotonic() - t0
        assert 0.25 <= waited < 5, waited  # until the other let go, not a busy-handler step later
        mine.release()
        mine.close()
    finally:
        release.set()
        other.join(10)
    assert other.exitcode == 0

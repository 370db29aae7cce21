"""SQLite's write lock and WAL checkpoints, kept off the intake's path.

Two things used to sit in front of a unit's Ack (issue 22, issue 16):

* **The write lock.** Every writing transaction of the process queues on one
  Python lock (``Database.session``). A plain ``threading.Lock`` is not fair:
  a background writer that commits chunk after chunk (the SLA sweep after a
  backlog) re-took it before the waiting intake woke up, and acks waited
  seconds. :class:`WriteLock` serves *urgent* waiters (the intake) before
  the others, so the intake waits for at most the one transaction in
  progress.
* **Checkpoints.** With SQLite's default ``wal_autocheckpoint`` the commit
  that pushes the WAL past 1,000 pages copies the whole WAL into the database
  file and fsyncs it, inside that commit: about one ingest commit in fifty
  carried it (a single case writes ~25 pages). A gateway's write connections
  turn it off (``wal_autocheckpoint=0``) and :class:`Checkpointer` runs
  ``PASSIVE`` checkpoints on its own connection and thread: a passive
  checkpoint takes no write lock, never waits for a reader (it copies what
  no open snapshot still needs, the rest next time) and never waits on the
  busy handler. The WAL is reset by the next writer once a checkpoint has
  copied everything and no reader uses it, so it stays small; should readers
  keep it from finishing, a warning is logged when the WAL passes
  ``warn_frames`` (it then still only grows until they let go).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable

log = logging.getLogger("gateway.store.wal")
FLOCK_POLL_S = 0.0005


class WriteLock:
    """A lock whose urgent waiters go before the others (not reentrant, and
    not bound to a thread: FastAPI may enter and leave a dependency in
    different threads).

    With ``path`` (a file beside the database) the holder also holds an
    ``flock`` on it, so the writers of *other processes* on the same file (a
    second gateway, a web process, ``siaga gateway`` tools) take turns there
    too: the next one goes the moment the lock is free (checked every half
    millisecond), where SQLite's busy handler slept 1, 2, 5, 10 ... 100 ms
    between tries (two gateway processes on one SQLite file: ack p99 105 ms).
    Urgent-first holds within a process only."""

    def __init__(self, path: str | None = None) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._urgent = 0  # urgent waiters now
        self._waiting = 0  # all waiters now (tests)
        self._path = path
        self._fd: int | None = None

    def acquire(self, *, urgent: bool = False, timeout: float = -1) -> bool:
        deadline = None if timeout < 0 else time.monotonic() + timeout
        if not self._acquire_here(urgent, timeout):
            return False
        try:
            if self._flock(deadline):
                return True
        except BaseException:  # e.g. Ctrl-C in the poll's sleep: never leave this process's lock held
            self._release_here()
            raise
        self._release_here()
        return False

    def _flock(self, deadline: float | None) -> bool:
        """Under the process's own lock: one thread here at a time."""
        if self._fd is None and self._path is not None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
            except OSError as exc:  # a read-only folder: SQLite's own busy handler only
                log.warning("Kunci tulis %s tidak bisa dibuka / writer lock file unusable: %s",
                            self._path, exc)
                self._path = None
        if self._fd is None:
            return True
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(FLOCK_POLL_S)

    def _acquire_here(self, urgent: bool, timeout: float) -> bool:
        with self._cond:
            if not self._held and (urgent or not self._urgent):
                self._held = True
                return True
            self._waiting += 1
            if urgent:
                self._urgent += 1
            try:
                got = self._cond.wait_for(lambda: not self._held and (urgent or not self._urgent),
                                          None if timeout < 0 else timeout)
                if got:
                    self._held = True
                return got
            finally:
                self._waiting -= 1
                if urgent:
                    self._urgent -= 1
                    if not got:  # the others may go now
                        self._cond.notify_all()

    def release(self) -> None:
        if not self._held:
            raise RuntimeError("release of an unheld WriteLock")
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._release_here()

    def _release_here(self) -> None:
        with self._cond:
            if not self._held:
                raise RuntimeError("release of an unheld WriteLock")
            self._held = False
            self._cond.notify_all()

    def close(self) -> None:
        """Let go of the lock file (reopened by the next writer)."""
        with self._cond:
            if self._fd is not None and not self._held:
                os.close(self._fd)
                self._fd = None

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """Threads waiting now (tests)."""
        with self._cond:
            return self._waiting

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Checkpointer:
    """A thread running ``PRAGMA wal_checkpoint(PASSIVE)`` on its own
    connection, ``interval_s`` after writes (woken by :meth:`wrote`)."""

    def __init__(self, path: str, *, interval_s: float = 1.0, warn_frames: int = 50_000,
                 on_result: Callable[[int, int, int], None] | None = None) -> None:
        self.path = path
        self.interval_s = interval_s
        self.warn_frames = warn_frames
        self.on_result = on_result
        self.runs = 0
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._conn: sqlite3.Connection | None = None
        self._conn_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        """A write was committed: a checkpoint is due within ``interval_s``."""
        self._dirty.set()

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint now: (busy, frames in the WAL, frames copied)."""
        with self._conn_lock:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False,
                                             isolation_level=None)
                self._conn.execute("PRAGMA synchronous=FULL")  # the copy is fsynced before the WAL resets
            busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.runs += 1
        if frames > self.warn_frames:
            log.warning("WAL %s has %d frames (%d copied): long-open readers keep it from being "
                        "checkpointed", self.path, frames, copied)
        if self.on_result is not None:
            self.on_result(busy, frames, copied)
        return busy, frames, copied

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(0.5):
                continue
            # writes come in bursts: let them gather, copy each page once
            if self._stop.wait(self.interval_s):
                break
            self._dirty.clear()
            started = time.monotonic()
            try:
                self.checkpoint()
            except sqlite3.Error as exc:  # e.g. the file went away; try again after the next write
                log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
            log.debug("checkpoint took %.1f ms", (time.monotonic() - started) * 1000)

    def stop(self) -> None:
        """Stop the thread, then one last checkpoint (a clean WAL for the next start)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with contextlib.suppress(sqlite3.Error):
            self.checkpoint()
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

"""Singleton roles across gateway instances: the SLA watch and the fleet watch.

Why: the ingest (shared subscription) and the dispatcher (a lease per outbox
row) run on every instance, but a timer scan or the fleet health watch must
run on exactly one, and move to a survivor when its holder dies.

How: a lock the operating system or the database drops by itself when the
holder dies, so no expiry has to run out:

* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a
  connection this instance keeps open for it. A dead process's connection
  closes at once; a dead host's is dropped by the server's TCP keepalive,
  which the lock session sets to 5 s idle + 3 x 2 s probes.
* SQLite (instances on one host, one file): ``flock`` on
  ``<database>.<role>.lock`` beside the database file.

Every ``check_s`` each instance tries to take the roles it does not hold and
checks the ones it does (a lost database connection gives the role up), and
starts or stops the role's worker accordingly. Takeover time after a holder
dies: at most ``check_s`` (plus ~11 s when a PostgreSQL host vanishes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from gateway.store.db import Database

log = logging.getLogger("gateway.roles")


def _key(role: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``role``."""
    return int.from_bytes(hashlib.sha256(f"siaga-gateway:{role}".encode()).digest()[:8], "big",
                          signed=True)


class _PgLock:
    def __init__(self, db: Database, role: str) -> None:
        self.db, self.role = db, role
        self.conn: Any = None

    def try_acquire(self) -> bool:
        try:
            conn = self.db.engine.connect()
            conn.execute(text("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
                              "SET tcp_keepalives_count = 3"))
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(self.role)})
                       .scalar())
            conn.commit()
        except Exception as exc:
            log.info("role %s: cannot ask the database: %s", self.role, exc)
            return False
        if got:
            self.conn = conn
        else:
            conn.close()
        return got

    def still_held(self) -> bool:
        try:
            self.conn.execute(text("SELECT 1"))
            self.conn.commit()
            return True
        except Exception:
            self.release()
            return False

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(self.role)})
                self.conn.commit()
            with contextlib.suppress(Exception):
                self.conn.invalidate()  # never back to the pool with a lock on it
                self.conn.close()
            self.conn = None


class _FileLock:
    def __init__(self, db: Database, role: str) -> None:
        database = db.url.database or "memory"
        self.path = Path(f"{database}.{role}.lock")
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def still_held(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_for(db: Database, name: str) -> _PgLock | _FileLock:
    """A lock named ``name`` across the instances of one database, dropped by
    itself when its holder dies (also used by gateway.failover, so that two
    survivors never take one dead peer's session over at the same time)."""
    return _PgLock(db, name) if db.engine.dialect.name == "postgresql" else _FileLock(db, name)


class Role:
    """One named role: a lock plus what to start and stop with it."""

    def __init__(self, name: str, db: Database, start: Callable[[], None], stop: Callable[[], None],
                 *, once: bool = False) -> None:
        self.name = name
        self.lock = lock_for(db, name)
        self.start, self.stop = start, stop
        self.once = once  # its worker cannot start twice: once lost, leave it to the others
        self.held = False
        self.given_up = False


class Roles:
    """Take, keep and give up the singleton roles of this instance."""

    def __init__(self, db: Database, *, check_s: float = 2.0) -> None:
        self.db = db
        self.check_s = check_s
        self.roles: dict[str, Role] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def add(self, name: str, start: Callable[[], None], stop: Callable[[], None], *,
            once: bool = False) -> None:
        self.roles[name] = Role(name, self.db, start, stop, once=once)

    def held(self) -> list[str]:
        with self._lock:
            return sorted(n for n, r in self.roles.items() if r.held)

    def check(self) -> None:
        """One pass: keep, lose or take each role."""
        for r in self.roles.values():
            if r.held and not r.lock.still_held():
                log.warning("Peran dilepas / role %s lost (database connection gone)", r.name)
                with self._lock:
                    r.held = False
                r.stop()
                r.given_up = r.once
            elif not r.held and not r.given_up and r.lock.try_acquire():
                log.info("Peran diambil / role %s taken by this instance", r.name)
                try:
                    r.start()
                except Exception:
                    log.exception("role %s failed to start; giving it up", r.name)
                    r.lock.release()
                    continue
                with self._lock:
                    r.held = True

    def start(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._run, name="roles", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.check()
            except Exception:
                log.exception("role check failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        for r in self.roles.values():
            if r.held:
                r.stop()
                with self._lock:
                    r.held = False
            r.lock.release()

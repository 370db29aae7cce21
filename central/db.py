"""Central's own state in one SQLite file (stdlib ``sqlite3``, WAL).

Why a file of its own rather than tables in the gateway's database: central's
state (credential hashes, desired-config versions, the command queue, fault
episodes) is written by the admin CLI on the broker host as well as by the
fleet service inside the gateway; a plain SQLite file needs no migration
coordination with the gateway's Alembic history, and the schema bootstrap
below is idempotent (``CREATE ... IF NOT EXISTS`` + ``user_version``), so
every process may run it on open. The *device registry* is the one piece the
gateway must see (to refuse a disabled unit); it goes through
:mod:`central.registry`, which uses the gateway's table when configured.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
    user TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('unit', 'service')),
    hash TEXT,
    access TEXT,
    revoked INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (device, name)
);
CREATE TABLE IF NOT EXISTS desired (
    device TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    settings TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    published_at TEXT
);
CREATE TABLE IF NOT EXISTS reported (
    device TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    settings TEXT NOT NULL,
    refused_version INTEGER,
    error TEXT,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS presence (
    device TEXT PRIMARY KEY,
    online INTEGER NOT NULL DEFAULT 0,
    last_seen TEXT,
    last_status TEXT,
    status_reason TEXT,
    boot_id TEXT,
    firmware TEXT,
    telemetry TEXT
);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    fault TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    notified_open INTEGER NOT NULL DEFAULT 0,
    notified_close INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS faults_one_open
    ON faults (device, fault) WHERE closed_at IS NULL;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    timeout_s REAL NOT NULL,
    sent_at TEXT,
    delivered_at TEXT,
    finished_at TEXT,
    result TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS commands_by_state ON commands (state, device);
CREATE TABLE IF NOT EXISTS rollouts (
    id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    url TEXT NOT NULL,
    target TEXT NOT NULL,
    waves TEXT NOT NULL,
    abort_pct REAL NOT NULL,
    wave_timeout_s REAL NOT NULL,
    state TEXT NOT NULL,
    wave INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS rollout_units (
    rollout TEXT NOT NULL,
    device TEXT NOT NULL,
    wave INTEGER NOT NULL,
    state TEXT NOT NULL,
    command_id TEXT,
    error TEXT,
    offered_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (rollout, device)
);
"""


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds") if dt else None


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str)


class Database:
    """A thread-safe handle: one connection, one lock, a transaction per
    :meth:`tx`. Short transactions only; nothing here waits on the network."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     timeout=10.0)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic write (BEGIN IMMEDIATE ... COMMIT, rollback on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, params).fetchall()]

    def one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

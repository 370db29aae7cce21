"""The unit's local SQLite store: call log, incidents, outbox, event log.

Why two connections to one WAL file: incidents, call records and the outbox
are committed with ``synchronous=FULL`` (one fsync each: a power cut after
the "recorded" LED loses nothing), while the chatty event log uses
``synchronous=NORMAL`` so it never costs an fsync. Both are used from the
agent's main-loop thread only.

Every record gets the next per-device sequence number in the same
transaction that stores it, so a number is never handed out twice.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from firmware.agent.sqlite import Database, Migrations
from firmware.errors import FirmwareError
from protocol.base import DeviceMessage
from protocol.codec import encode

log = logging.getLogger(__name__)

M = TypeVar("M", bound=DeviceMessage)

migrations = Migrations("siaga-unit")

#: The store format level this code writes and can read. Migrations are
#: forward-compatible (they only add tables, or columns that are nullable or
#: have a default; nothing is renamed, dropped or given a new meaning), so an
#: older version reads what a newer one wrote -- the rollback guarantee. A
#: change that breaks this rule must raise STORE_COMPAT; the updater then
#: switches only with an empty outbox, and an older version refuses to open
#: the file rather than misread it (docs/updates.md).
STORE_COMPAT = 1


class StoreTooNew(FirmwareError):
    """The file was written in a store format this version cannot read."""


class StorageFull(FirmwareError, OSError):
    """A write was refused because the disk is (nearly) full."""


@migrations()
def m001_initial(db: Database) -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("""CREATE TABLE outbox (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        seq INTEGER NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        created_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        delivered_at REAL,
        case_no TEXT,
        error TEXT)""")
    db.execute("CREATE INDEX outbox_state ON outbox(state, n)")
    db.execute("""CREATE TABLE incidents (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, created_at REAL NOT NULL,
        category TEXT NOT NULL, source TEXT NOT NULL, button TEXT, call_id TEXT,
        state TEXT NOT NULL DEFAULT 'recorded', case_no TEXT, delivered_at REAL,
        payload TEXT NOT NULL)""")
    db.execute("""CREATE TABLE calls (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, created_at REAL NOT NULL,
        direction TEXT NOT NULL, number TEXT, answer_s REAL, duration_s REAL,
        end_reason TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'recorded',
        delivered_at REAL, payload TEXT NOT NULL)""")
    db.execute("""CREATE TABLE events (
        n INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, level TEXT NOT NULL,
        kind TEXT NOT NULL, detail TEXT)""")
    db.execute("""CREATE TABLE commands (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, at REAL NOT NULL, status TEXT NOT NULL)""")


@migrations()
def m002_command_results(db: Database) -> None:
    """Keep each command's outcome, so a repeat is answered with it."""
    db.execute("ALTER TABLE commands ADD COLUMN result TEXT")


@migrations()
def m003_sms_fallback(db: Database) -> None:
    """When an incident went out by SMS: one SMS per incident, across restarts."""
    db.execute("ALTER TABLE incidents ADD COLUMN sms_sent_at REAL")


#: outbox kind -> the table holding the record itself
RECORD_TABLES = {"incident": "incidents", "call": "calls"}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    n: int
    id: str
    kind: str
    seq: int
    topic: str
    payload: bytes
    attempts: int


class Store:
    """All of the unit's durable state; see the module docstring."""

    def __init__(self, path: Path, *, min_free_mb: float = 100.0, critical_reserve_mb: float = 5.0,
                 free_mb: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.min_free_mb = min_free_mb
        self.critical_reserve_mb = critical_reserve_mb
        self._free_mb_fn = free_mb or self._disk_free_mb
        self._free_cache: tuple[float, float] = (0.0, -1.0)
        self.refused_writes = 0
        self._owner = threading.get_ident()
        self._local = threading.local()
        # created on one thread, used by the main-loop thread (never by two at once)
        self.db = Database(sqlite3.connect(str(self.path), check_same_thread=False))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=5000")
        written = self.db.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone()
        if written:
            row = self.db.execute("SELECT value FROM meta WHERE key='store_compat'").fetchone()
            if row and int(row[0]) > STORE_COMPAT:
                self.db.close()
                raise StoreTooNew(f"penyimpanan dari versi lebih baru / store format {row[0]} is newer "
                                  f"than this version reads ({STORE_COMPAT}): {self.path}")
        migrations.apply(self.db)
        with self.db.conn:
            self.db.conn.execute("INSERT INTO meta (key, value) VALUES ('store_compat', ?) ON CONFLICT(key) "
                                 "DO UPDATE SET value=excluded.value WHERE CAST(value AS INTEGER) < ?",
                                 [str(STORE_COMPAT), STORE_COMPAT])
        # the event log: same file, no fsync per row
        self.logdb = sqlite3.connect(str(self.path), check_same_thread=False)
        self.logdb.execute("PRAGMA synchronous=NORMAL")
        self.logdb.execute("PRAGMA busy_timeout=5000")

    def close(self) -> None:
        self.logdb.close()
        self.db.close()

    # -- disk space -------------------------------------------------------

    def _disk_free_mb(self) -> float:
        return shutil.disk_usage(self.path.parent).free / 1e6

    def free_mb(self) -> float:
        """Free space where the database lives (cached for a second)."""
        now = time.monotonic()
        at, value = self._free_cache
        if value < 0 or now - at > 1.0:
            value = self._free_mb_fn()
            self._free_cache = (now, value)
        return value

    @property
    def storage_low(self) -> bool:
        return self.free_mb() < self.min_free_mb

    def _check_space(self, *, critical: bool) -> None:
        free = self.free_mb()
        limit = self.critical_reserve_mb if critical else self.min_free_mb
        if free < limit:
            self.refused_writes += 1
            raise StorageFull(
                f"Penyimpanan penuh / storage full: {free:.1f} MB free < {limit:.1f} MB "
                f"({'critical' if critical else 'non-critical'} write refused)"
            )

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        """First row of a query, with the statement finalised at once.

        Why: an unfinished SELECT keeps a read snapshot open on the durable
        connection; once the event-log connection commits, the next write
        here fails with SQLITE_BUSY_SNAPSHOT ("database is locked"). For the
        same reason a read from another thread (a test, the bench) never
        touches the main loop's connection: it gets its own."""
        conn = self.db.conn if threading.get_ident() == self._owner else self._reader()
        cur = conn.execute(sql, params or [])
        try:
            return cur.fetchone()
        finally:
            cur.close()

    def bind_thread(self) -> None:
        """The calling thread (the agent's main loop) owns the connections."""
        self._owner = threading.get_ident()

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path))
            self._local.conn = conn
        return conn

    # -- meta -------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = ?", [key])
        return row[0] if row else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.db.atomic():
            self._set_meta(key, value)

    def set_metas(self, **values: Any) -> None:
        """Several keys in one transaction (both or neither after a power cut)."""
        with self.db.atomic():
            for key, value in values.items():
                self._set_meta(key, value)

    def _set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, str(value)])

    def _next_seq(self) -> int:
        seq = int(self.get_meta("seq", "0") or 0) + 1
        self._set_meta("seq", seq)
        return seq

    def next_seq(self) -> int:
        """A sequence number for a message that is not itself stored (telemetry)."""
        with self.db.atomic():
            return self._next_seq()

    # -- records + outbox -------------------------------------------------

    def record(self, kind: str, topic: str, build: Callable[[int], M]) -> M:
        """Store a record and its outbox row in one durable transaction.

        ``build(seq)`` makes the message with the sequence number allocated
        inside the transaction; when this returns, the record is on disk.
        """
        self._check_space(critical=True)
        try:
            with self.db.atomic():
                seq = self._next_seq()
                msg = build(seq)
                payload = encode(msg)
                now = time.time()
                row: dict[str, Any] = {"id": msg.id, "seq": seq, "created_at": now,
                                       "payload": payload.decode()}
                if kind == "incident":
                    row |= {"category": str(msg.category), "source": str(msg.source),  # type: ignore[attr-defined]
                            "button": msg.button, "call_id": msg.call_id}  # type: ignore[attr-defined]
                elif kind == "call":
                    row |= {"direction": str(msg.direction), "number": msg.number,  # type: ignore[attr-defined]
                            "answer_s": msg.answer_s, "duration_s": msg.duration_s,  # type: ignore[attr-defined]
                            "end_reason": str(msg.end_reason)}  # type: ignore[attr-defined]
                else:
                    raise ValueError(f"unknown record kind {kind!r}")
                cols = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                self.db.execute(f"INSERT INTO {RECORD_TABLES[kind]} ({cols}) VALUES ({marks})",  # noqa: S608
                                list(row.values()))
                self.db.execute(
                    "INSERT INTO outbox (id, kind, seq, topic, payload, created_at) VALUES (?,?,?,?,?,?)",
                    [msg.id, kind, seq, topic, payload, now])
        except sqlite3.OperationalError as exc:
            if "full" in str(exc).lower():
                self.refused_writes += 1
                raise StorageFull(f"Penyimpanan penuh / storage full: {exc}") from exc
            raise
        return msg

    def pending(self, limit: int, *, after_n: int = 0, exclude: Iterable[str] = ()) -> list[OutboxItem]:
        """Oldest undelivered items first (the order they must reach the centre)."""
        skip = set(exclude)
        out: list[OutboxItem] = []
        cur = self.db.execute(
            "SELECT n, id, kind, seq, topic, payload, attempts FROM outbox "
            "WHERE state = 'pending' AND n > ? ORDER BY n", [after_n])
        for row in cur:
            if row[1] in skip:
                continue
            out.append(OutboxItem(n=row[0], id=row[1], kind=row[2], seq=row[3], topic=row[4],
                                  payload=bytes(row[5]), attempts=row[6]))
            if len(out) >= limit:
                break
        cur.close()
        return out

    def outbox_depth(self) -> int:
        row = self.one("SELECT count(*) FROM outbox WHERE state = 'pending'")
        return int(row[0]) if row else 0

    def note_attempt(self, ids: Iterable[str]) -> None:
        """Count send attempts (NORMAL durability is fine: it is statistics)."""
        ids = list(ids)
        if ids:
            self.logdb.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?",
                                   [[i] for i in ids])
            self.logdb.commit()

    def mark_delivered(self, items: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
        """Mark ids acked by the gateway; returns (kind, id) of newly delivered ones.

        Written without an fsync (the NORMAL connection), on purpose: losing a
        "delivered" mark to a power cut only makes the unit send the item
        again, which the gateway acks as a duplicate. It triples the drain
        rate after an outage on an SD card."""
        done: list[tuple[str, str]] = []
        now = time.time()
        conn = self.logdb
        with conn:  # one transaction, committed on exit
            for msg_id, case in items:
                cur = conn.execute("SELECT kind, state FROM outbox WHERE id = ?", [msg_id])
                row = cur.fetchone()
                cur.close()
                if row is None or row[1] != "pending":
                    continue
                kind = row[0]
                conn.execute("UPDATE outbox SET state='delivered', delivered_at=?, case_no=? WHERE id = ?",
                             [now, case, msg_id])
                table = RECORD_TABLES.get(kind)
                if table == "incidents":
                    conn.execute("UPDATE incidents SET state='delivered', delivered_at=?, case_no=? "
                                 "WHERE id = ?", [now, case, msg_id])
                elif table:
                    conn.execute(f"UPDATE {table} SET state='delivered', delivered_at=? WHERE id = ?",  # noqa: S608
                                 [now, msg_id])
                done.append((kind, msg_id))
        return done

    def sms_due(self, created_before: float, categories: Iterable[str]) -> list[tuple[str, str]]:
        """``(id, payload)`` of undelivered incidents of these categories, made
        before ``created_before`` (wall time) and never sent by SMS."""
        cats = list(categories)
        if not cats:
            return []
        marks = ", ".join("?" for _ in cats)
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT id, payload FROM incidents WHERE state = 'recorded' AND sms_sent_at IS NULL "  # noqa: S608
            f"AND created_at <= ? AND category IN ({marks}) ORDER BY seq", [created_before, *cats])]

    def mark_sms_sent(self, msg_id: str) -> None:
        """Durable (FULL) before the SMS goes out: a power cut then costs at
        most one lost SMS (the MQTT copy still follows), never a second one."""
        with self.db.atomic():
            self.db.execute("UPDATE incidents SET sms_sent_at = ? WHERE id = ?", [time.time(), msg_id])

    def clear_sms_mark(self, msg_id: str) -> None:
        """The modem said the SMS did not go out: it may be tried again."""
        with self.db.atomic():
            self.db.execute("UPDATE incidents SET sms_sent_at = NULL WHERE id = ?", [msg_id])

    def mark_rejected(self, msg_id: str, reason: str) -> bool:
        with self.logdb:
            cur = self.logdb.execute("UPDATE outbox SET state='rejected', error=? "
                                     "WHERE id = ? AND state = 'pending'", [reason[:200], msg_id])
            return cur.rowcount > 0

    def rows(self, table: str) -> list[dict[str, Any]]:
        return list(self.db.query(f"SELECT * FROM {table} ORDER BY rowid"))  # noqa: S608

    # -- event log (non-critical) -----------------------------------------

    def log_event(self, kind: str, detail: Any = None, *, level: str = "INFO") -> bool:
        """Append to the event log; refused (False) when storage is low."""
        try:
            self._check_space(critical=False)
        except StorageFull:
            return False
        text = detail if isinstance(detail, str) or detail is None else json.dumps(detail, default=str)
        try:
            self.logdb.execute("INSERT INTO events (at, level, kind, detail) VALUES (?,?,?,?)",
                               [time.time(), level, kind, text])
            self.logdb.commit()
        except sqlite3.OperationalError as exc:
            log.warning("event log write failed: %s", exc)
            return False
        return True

    def recent_events(self, lines: int) -> list[dict[str, Any]]:
        rows = list(self.db.query("SELECT at, level, kind, detail FROM events ORDER BY n DESC LIMIT ?",
                                  [lines]))
        return rows[::-1]

    # -- commands ---------------------------------------------------------

    def remember_command(self, cmd_id: str, name: str, status: str,
                         result: dict[str, Any] | None = None) -> None:
        """Recorded durably *before* running it: a command never runs twice."""
        with self.db.atomic():
            self.db.execute("INSERT OR REPLACE INTO commands (id, name, at, status, result) "
                            "VALUES (?,?,?,?,?)",
                            [cmd_id, name, time.time(), status,
                             json.dumps(result, default=str) if result is not None else None])

    def command_outcome(self, cmd_id: str) -> tuple[str, dict[str, Any]] | None:
        """(status, result) of a command already seen."""
        row = self.one("SELECT status, result FROM commands WHERE id = ?", [cmd_id])
        if row is None:
            return None
        try:
            result = json.loads(row[1]) if row[1] else {}
        except ValueError:
            result = {}
        return row[0], result if isinstance(result, dict) else {}

    # -- retention --------------------------------------------------------

    def prune(self, older_than_s: float) -> dict[str, int]:
        """Delete delivered records, old events and old command ids."""
        cutoff = time.time() - older_than_s
        counts = {}
        with self.db.atomic():
            for table in ("outbox", "incidents", "calls"):
                cur = self.db.execute(
                    f"DELETE FROM {table} WHERE state IN ('delivered', 'rejected') "  # noqa: S608
                    "AND coalesce(delivered_at, created_at) < ?", [cutoff])
                counts[table] = cur.rowcount
            counts["events"] = self.db.execute("DELETE FROM events WHERE at < ?", [cutoff]).rowcount
            counts["commands"] = self.db.execute("DELETE FROM commands WHERE at < ?", [cutoff]).rowcount
        return counts

    def writable(self) -> bool:
        """Self-test: can we commit a durable write right now?"""
        try:
            with self.db.atomic():
                self._set_meta("self_test_at", time.time())
            return True
        except sqlite3.Error:
            return False

    def integrity_ok(self) -> bool:
        row = self.one("PRAGMA integrity_check")
        return bool(row and row[0] == "ok")


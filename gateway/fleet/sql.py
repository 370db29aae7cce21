"""The fleet's tables in the gateway's database, through the gateway's engine.

The tables (``fleet_*``) are created by the gateway's Alembic history
(``0004_fleet``), so there is one schema and one migration path for SQLite
and PostgreSQL; a writing transaction here is a ``Database.session()`` of the
gateway (on SQLite it queues on the same in-process lock as the ingest).

The fleet services speak plain SQL with ``?`` placeholders, written to run on
both engines (no SQLite-only syntax; ``ON CONFLICT`` is in both). Timestamps
are ISO-8601 UTC text with milliseconds, which sorts as time on both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from gateway.store.db import Database

_MARK = re.compile(r"\?")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds") if dt else None


def parse_iso(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str)


def _named(sql: str, params: Sequence[Any] | dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``?`` placeholders to SQLAlchemy's ``:p0, :p1 ...`` (both engines)."""
    if isinstance(params, dict):
        return text(sql), params
    count = iter(range(len(params)))
    return text(_MARK.sub(lambda _m: f":p{next(count)}", sql)), {f"p{i}": v for i, v in enumerate(params)}


class Tx:
    """One writing transaction: ``execute`` / ``executemany`` with ``?`` marks."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> CursorResult[Any]:
        stmt, named = _named(sql, params)
        return self.session.execute(stmt, named)  # type: ignore[return-value]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        stmt, _ = _named(sql, rows[0])
        self.session.execute(stmt, [_named(sql, r)[1] for r in rows])

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> dict[str, Any] | None:
        r = self.execute(sql, params).mappings().first()
        return dict(r) if r is not None else None


class FleetDB:
    """The fleet's handle on the gateway's :class:`Database`: writing
    transactions (:meth:`tx`) and read-only queries that never take the
    write lock (:meth:`query`, :meth:`one`)."""

    def __init__(self, gdb: Database) -> None:
        self.gdb = gdb

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """One atomic write, committed on success and rolled back on error."""
        with self.gdb.session() as s:
            yield Tx(s)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        stmt, named = _named(sql, params)
        with self.gdb.read_session() as s:
            return [dict(r) for r in s.execute(stmt, named).mappings().all()]

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

"""The few SQLite helpers the unit's store needs, on the standard library.

Why not sqlite-utils: the agent used five of its calls (execute, query,
atomic, migrations, close), and importing it (with click, pluggy and
dateutil) cost a Pi about 4 MB of resident memory for the agent's whole
life. The migration record is the table sqlite-utils keeps
(``_sqlite_migrations``: id, migration_set, name, applied_at, unique on
set and name), so a store written by an older release is read as is and an
older release reads what this one wrote (the rollback guarantee,
docs/updates.md; ``tests/updates/test_store_compat.py`` checks it against
sqlite-utils itself).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

MIGRATIONS_TABLE = "_sqlite_migrations"


class Database:
    """One connection in autocommit mode: a statement outside :meth:`atomic`
    commits on its own; :meth:`atomic` is one transaction (a savepoint when
    nested)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.isolation_level = None  # explicit BEGIN/COMMIT only
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, params or [])

    def query(self, sql: str, params: Sequence[Any] | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts (column name -> value)."""
        cur = self.conn.execute(sql, params or [])
        names = [d[0] for d in cur.description or ()]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:
            name = f"sp_{secrets.token_hex(8)}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:  # an error may have ended the whole transaction
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    self.conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
            return
        self.conn.execute("BEGIN")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class Migrations:
    """Named schema steps applied once each, in order, each in its own
    transaction together with its record."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._steps: list[tuple[str, Callable[[Database], None]]] = []

    def __call__(self) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
        def register(fn: Callable[[Database], None]) -> Callable[[Database], None]:
            if any(n == fn.__name__ for n, _ in self._steps):
                raise ValueError(f"migration {fn.__name__!r} registered twice in {self.name!r}")
            self._steps.append((fn.__name__, fn))
            return fn
        return register

    def applied(self, db: Database) -> list[str]:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                      [MIGRATIONS_TABLE]).fetchone() is None:
            return []
        return [r[0] for r in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE} "  # noqa: S608
                                         "WHERE migration_set = ? ORDER BY rowid", [self.name])]

    def apply(self, db: Database) -> None:
        db.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY, "
                   "migration_set TEXT, name TEXT, applied_at TEXT)")
        db.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS idx_{MIGRATIONS_TABLE}_migration_set_name "
                   f"ON {MIGRATIONS_TABLE} (migration_set, name)")
        done = set(self.applied(db))
        for name, fn in self._steps:
            if name in done:
                continue
            with db.atomic():
                fn(db)
                db.execute(f"INSERT INTO {MIGRATIONS_TABLE} (migration_set, name, applied_at) "  # noqa: S608
                           "VALUES (?, ?, ?)", [self.name, name, str(datetime.now(UTC))])

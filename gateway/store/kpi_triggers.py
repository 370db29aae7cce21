"""Database triggers that mark the KPI rollups' days dirty (``kpi_dirty``)
in the writer's own transaction, whoever writes: the cases service, the
intake, a bulk load or a test's raw INSERT alike (as the generated duration
columns of gateway/store/durations.py do).

A trigger only appends the UTC day of each key timestamp a row had before
and has after the change, unless that day is marked already (SQLite: by
anyone; PostgreSQL: by the same transaction, as a concurrent refresh may be
deleting another's mark without seeing this change); the rollup itself is
recomputed from the raw rows later (``gateway.kpi_rollup.refresh``), so the
KPI definitions live in one place (Python/SQL), not twice in two trigger
dialects, and writers never queue on a shared counter row. Readers treat a
dirty day as raw until it is refreshed.
"""

from __future__ import annotations

#: table -> (key timestamp columns, columns whose change can move a KPI)
WATCHED = {
    "incidents": (("received_at",), ("received_at", "category", "status")),
    "assignments": (("dispatched_at", "declined_at"),
                    ("opd", "dispatched_at", "acknowledged_at", "resolved_at", "sla_ack_min",
                     "sla_resolve_min", "ack_escalated_at", "resolve_escalated_at", "status",
                     "declined_at", "decline_reason", "decline_wrong", "rerouted_at")),
    "calls": (("received_at",), ("received_at", "direction", "answer_s", "end_reason", "call_type")),
}


def _sqlite_day(ref: str) -> str:
    return f"CAST(strftime('%s', substr({ref}, 1, 10)) AS INTEGER) / 86400"


def _pg_day(ref: str) -> str:
    return f"floor(extract(epoch from {ref}) / 86400)::integer"


def create_sql(dialect: str, *, pg_marks: str = "tx") -> list[str]:
    """DDL creating the triggers (and on PostgreSQL their functions).
    ``pg_marks="xmin"``: PostgreSQL's triggers as migration 0005 made them
    (their own mark found by the row's ``xmin``, which no index holds), for
    the migrations before 0008 and its downgrade."""
    if pg_marks not in ("tx", "xmin"):
        raise ValueError(f"pg_marks: 'tx' or 'xmin', not {pg_marks!r}")
    out = []
    for table, (keys, cols) in WATCHED.items():
        if dialect == "sqlite":
            # one mark per day: SQLite serializes writers and the refresher, so an
            # existing mark is deleted only by a refresh that sees this change too
            def ins(ref: str, cond: str = "") -> str:
                return (f"INSERT INTO kpi_dirty(day) SELECT {_sqlite_day(ref)} "  # noqa: S608 (DDL from constants)
                        f"WHERE {ref} IS NOT NULL{cond} AND NOT EXISTS "
                        f"(SELECT 1 FROM kpi_dirty WHERE day = {_sqlite_day(ref)});")

            new = " ".join(ins(f"NEW.{k}") for k in keys)
            old = " ".join(ins(f"OLD.{k}") for k in keys)
            moved = " ".join(ins(f"OLD.{k}", f" AND substr(OLD.{k}, 1, 10) IS NOT substr(NEW.{k}, 1, 10)")
                             for k in keys)
            out += [f"CREATE TRIGGER kpi_mark_{table}_ins AFTER INSERT ON {table} BEGIN {new} END",
                    f"CREATE TRIGGER kpi_mark_{table}_del AFTER DELETE ON {table} BEGIN {old} END",
                    f"CREATE TRIGGER kpi_mark_{table}_upd AFTER UPDATE OF {', '.join(cols)} ON {table} "
                    f"BEGIN {new} {moved} END"]
        else:
            # one mark per day and transaction (a bulk load's); another transaction's
            # mark may be deleted by a refresh that does not see this change yet
            # (the transaction is a column of the mark: its lookup is one index probe,
            # where the row's xmin was a filter over every mark of the day, which a
            # surge of single-press commits made thousands: migration 0008)
            def pins(ref: str, cond: str = "") -> str:
                if pg_marks == "xmin":
                    return (f"INSERT INTO kpi_dirty(day) SELECT {_pg_day(ref)} "  # noqa: S608
                            f"WHERE {ref} IS NOT NULL{cond} AND NOT EXISTS (SELECT 1 FROM kpi_dirty "
                            f"WHERE day = {_pg_day(ref)} "
                            f"AND xmin = (txid_current() % 4294967296)::text::xid);")
                return (f"INSERT INTO kpi_dirty(day, tx) SELECT {_pg_day(ref)}, txid_current() "  # noqa: S608
                        f"WHERE {ref} IS NOT NULL{cond} AND NOT EXISTS (SELECT 1 FROM kpi_dirty "
                        f"WHERE day = {_pg_day(ref)} AND tx = txid_current());")

            new = " ".join(pins(f"NEW.{k}") for k in keys)
            old = " ".join(pins(f"OLD.{k}") for k in keys)
            moved = " ".join(pins(f"OLD.{k}", f" AND {_pg_day(f'OLD.{k}')} IS DISTINCT FROM "
                                              f"{_pg_day(f'NEW.{k}')}") for k in keys)
            out += [f"""CREATE FUNCTION kpi_mark_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {new}
  ELSIF TG_OP = 'DELETE' THEN {old}
  ELSE {new} {moved}
  END IF;
  RETURN NULL;
END $$""",
                    f"CREATE TRIGGER kpi_mark_{table} AFTER INSERT OR DELETE OR UPDATE OF {', '.join(cols)} "
                    f"ON {table} FOR EACH ROW EXECUTE FUNCTION kpi_mark_{table}()"]
    return out


def drop_sql(dialect: str) -> list[str]:
    out = []
    for table in WATCHED:
        if dialect == "sqlite":
            out += [f"DROP TRIGGER IF EXISTS kpi_mark_{table}_{op}" for op in ("ins", "del", "upd")]
        else:
            out += [f"DROP TRIGGER IF EXISTS kpi_mark_{table} ON {table}",
                    f"DROP FUNCTION IF EXISTS kpi_mark_{table}()"]
    return out


def present_sql(dialect: str) -> str:
    """SQL counting this module's triggers (all must be there for the rollups to be trusted)."""
    if dialect == "sqlite":
        return "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'kpi_mark_%'"
    return "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'kpi_mark_%'"


def expected_count(dialect: str) -> int:
    return len(WATCHED) * (3 if dialect == "sqlite" else 1)

"""Durations the database keeps beside the timestamps: an assignment's
microseconds from dispatch to acknowledgement and to resolution, and from
a decline to the case's next dispatch (the re-route).

Generated columns (``GENERATED ALWAYS AS (...) STORED``), so every writer,
the cases service, a bulk load or a test's raw INSERT alike, gets them
without doing anything, and the KPI queries read an integer instead of
parsing two timestamps per row (on SQLite that parsing was most of a
dashboard's time). Whole microseconds, exact on both databases, the same
numbers ``gateway.kpi`` computed from the timestamps before. The DDL text
differs per database: SQLite keeps timestamps as text
('YYYY-MM-DD HH:MM:SS.ffffff'), PostgreSQL as ``timestamp``.
"""

from __future__ import annotations


def _sqlite_us(col: str) -> str:
    return (f"(CAST(strftime('%s', substr({col}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({col}, 21, 6) AS INTEGER))")


def micros_sql(dialect: str, start: str, end: str) -> str:
    """SQL for ``end - start`` in whole microseconds (NULL when either is NULL)."""
    if dialect == "sqlite":
        return f"{_sqlite_us(end)} - {_sqlite_us(start)}"
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) * 1000000 AS BIGINT)"


#: generated column -> (start, end) of the assignments table
ASSIGNMENT_DURATIONS = {"ack_us": ("dispatched_at", "acknowledged_at"),
                        "resolve_us": ("dispatched_at", "resolved_at"),
                        "reroute_us": ("declined_at", "rerouted_at")}

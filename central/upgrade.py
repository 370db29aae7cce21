"""Carry an old ``central.db`` (central's own SQLite file, before the fleet
moved into the gateway's database) over into the gateway's ``fleet_*``
tables: ``siaga admin import-central-db PATH``.

Rows already present (same key) are kept as they are, so the import can be
re-run. Presence is not carried over: the gateway's ingest rebuilds it from
the units' retained status and their next heartbeat. Devices of an old
local registry (a site without ``gateway_db_url``) are registered in the
gateway's ``devices`` table when missing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from gateway.fleet.context import Fleet
from gateway.fleet.errors import DeviceExists
from protocol.fleet import Profile
from protocol.reports import Location

#: old table -> (new table, columns, key columns); credentials.user is now username
TABLES: list[tuple[str, str, list[str], list[str]]] = [
    ("credentials", "fleet_credentials", ["username", "kind", "hash", "access", "revoked", "updated_at"],
     ["username"]),
    ("groups", "fleet_groups", ["device", "name"], ["device", "name"]),
    ("desired", "fleet_desired", ["device", "version", "settings", "issued_at", "published_at"], ["device"]),
    ("reported", "fleet_reported", ["device", "version", "settings", "refused_version", "error",
                                    "received_at"], ["device"]),
    ("commands", "fleet_commands", ["id", "device", "name", "args", "state", "created_at", "expires_at",
                                    "timeout_s", "sent_at", "delivered_at", "finished_at", "result", "error"],
     ["id"]),
    ("rollouts", "fleet_rollouts", ["id", "version", "url", "target", "waves", "abort_pct", "wave_timeout_s",
                                    "state", "wave", "reason", "created_at", "finished_at"], ["id"]),
    ("rollout_units", "fleet_rollout_units", ["rollout", "device", "wave", "state", "command_id", "error",
                                              "offered_at", "updated_at"], ["rollout", "device"]),
]
#: history tables: appended (new ids), skipped when the same row is already there
HISTORY = [("faults", "fleet_faults", ["device", "fault", "detail", "opened_at", "closed_at", "notified_open",
                                       "notified_close"], ["device", "fault", "opened_at"]),
           ("events", "fleet_events", ["device", "kind", "detail", "at"], ["device", "kind", "at"])]


def _rows(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
        return []
    out = [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]  # noqa: S608 - fixed names
    for r in out:
        if "user" in r:
            r["username"] = r.pop("user")
    return out


def import_central_db(path: Path, fleet: Fleet) -> dict[str, int]:
    """Copy what ``path`` holds into the fleet's tables; returns rows added per table."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    added: dict[str, int] = {}
    try:
        added["devices"] = 0
        for r in _rows(conn, "devices"):  # an old local registry
            loc = Location.model_validate_json(r["location"]) if r.get("location") else None
            try:
                fleet.registry.add(r["id"], profile=Profile(r["profile"]), location=loc)
                if not r["enabled"]:
                    fleet.registry.set_enabled(r["id"], False)
                added["devices"] += 1
            except DeviceExists:
                pass
        for old, new, cols, key in TABLES + HISTORY:
            n = 0
            where = " AND ".join(f"{k}=?" for k in key)
            marks = ", ".join("?" * len(cols))
            with fleet.db.tx() as c:
                for r in _rows(conn, old):
                    if c.one(f"SELECT 1 AS x FROM {new} WHERE {where}", [r[k] for k in key]):  # noqa: S608
                        continue
                    # ON CONFLICT: an old open episode where a new one is open already
                    cur = c.execute(f"INSERT INTO {new} ({', '.join(cols)}) VALUES ({marks}) "  # noqa: S608
                                    "ON CONFLICT DO NOTHING", [r.get(k) for k in cols])
                    n += cur.rowcount
            added[new] = n
    finally:
        conn.close()
    return added

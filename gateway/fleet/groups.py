"""Groups, credential metadata and the admin-action history of units.

Read by the fleet's API and table; written by ``siaga admin`` (the
provisioner, which also writes the broker's files on the admin host).
"""

from __future__ import annotations

from gateway.fleet.sql import FleetDB, iso, utcnow


class Groups:
    def __init__(self, db: FleetDB) -> None:
        self.db = db

    def set_groups(self, device_id: str, groups: list[str]) -> None:
        with self.db.tx() as c:
            c.execute("DELETE FROM fleet_groups WHERE device=?", (device_id,))
            c.executemany("INSERT INTO fleet_groups (device, name) VALUES (?, ?)",
                          [(device_id, g) for g in sorted(set(groups))])

    def groups_of(self, device_id: str) -> list[str]:
        return [r["name"] for r in
                self.db.query("SELECT name FROM fleet_groups WHERE device=? ORDER BY name", (device_id,))]

    def members(self, group: str) -> list[str]:
        return [r["device"] for r in
                self.db.query("SELECT device FROM fleet_groups WHERE name=? ORDER BY device", (group,))]

    def all(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.db.query("SELECT name, device FROM fleet_groups ORDER BY name, device"):
            out.setdefault(r["name"], []).append(r["device"])
        return out

    def is_revoked(self, device_id: str) -> bool:
        r = self.db.one("SELECT revoked, hash FROM fleet_credentials WHERE username=?", (device_id,))
        return bool(r is None or r["revoked"] or not r["hash"])

    def audit(self, device: str, kind: str, actor: str, detail: str = "") -> None:
        """An admin action, in the device's event history (`device show`, API)."""
        with self.db.tx() as c:
            c.execute("INSERT INTO fleet_events (device, kind, detail, at) VALUES (?, ?, ?, ?)",
                      (device, kind, f"by {actor}{': ' + detail if detail else ''}"[:200],
                       iso(utcnow())))

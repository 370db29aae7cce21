"""Staged rollout of a release: waves, per-unit state, an abort threshold.

Why waves (AWS IoT Jobs, Mender): a bad release must never take a city's
boxes down at once. A rollout picks its units (a group, or a percentage of
the fleet), splits them into waves by cumulative percentages (``10,50,100``),
offers the update to one wave at a time with the ``update`` command, and
waits until every unit of the wave is final (confirmed, rolled back, failed)
or the wave times out. If more than ``abort_pct`` % of the wave failed or
rolled back, the rollout stops there: later waves are never offered.

Per-unit state comes from the unit itself: the command's reply (accepted or
refused with a reason) and the ``update`` report its heartbeat repeats
(``Telemetry.update``: downloading, installed, confirmed, rolled_back,
failed). Everything lives in the gateway's database (``fleet_rollouts``,
``fleet_rollout_units``); ``tick`` runs in the fleet service's loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from datetime import datetime, timedelta
from typing import Any

from firmware.agent.updsig import parse_version
from gateway.fleet.commands import CmdState, CommandService
from gateway.fleet.errors import ReleaseError
from gateway.fleet.health import presence
from gateway.fleet.sql import FleetDB, iso, parse_iso, utcnow
from protocol.ids import new_id

log = logging.getLogger(__name__)

UNIT_STATES = ("pending", "offered", "downloading", "installed", "confirmed", "rolled_back", "failed")
FINAL = ("confirmed", "rolled_back", "failed")
BAD = ("rolled_back", "failed")


def plan_waves(devices: list[str], waves: list[float], salt: str) -> list[list[str]]:
    """Split ``devices`` into waves by cumulative percentages, in a stable
    pseudo-random order (so wave 1 is not always the same street)."""
    if not waves or any(b <= a for a, b in zip([0.0, *waves], waves, strict=False)) or waves[-1] > 100:
        raise ReleaseError("gelombang harus naik sampai <= 100 / waves must rise, ending at <= 100")
    order = sorted(devices, key=lambda d: hashlib.sha256(f"{salt}:{d}".encode()).hexdigest())
    out, start = [], 0
    for pct in waves:
        end = max(start + 1, math.ceil(len(order) * pct / 100)) if order else 0
        out.append(order[start:min(end, len(order))])
        start = min(end, len(order))
    return [w for w in out if w]


class RolloutService:
    def __init__(self, db: FleetDB, commands: CommandService) -> None:
        self.db = db
        self.commands = commands

    # -- create / read -----------------------------------------------------

    def create(self, version: str, url: str, devices: list[str], *, target: str, waves: list[float],
               abort_pct: float, wave_timeout_s: float) -> dict[str, Any]:
        parse_version(version)
        if not url.startswith(("http://", "https://")):
            raise ReleaseError(f"URL repositori tidak sah / bad repository URL: {url!r}")
        if not 0 <= abort_pct < 100:
            raise ReleaseError("abort_pct harus 0..100 / must be in [0, 100)")
        if not devices:
            raise ReleaseError(f"tidak ada unit / no units match {target}")
        if self.db.one("SELECT id FROM fleet_rollouts WHERE state='running'"):
            raise ReleaseError("sudah ada rollout berjalan / a rollout is already running; abort it first")
        rid = new_id()
        planned = plan_waves(sorted(set(devices)), waves, rid)
        now = iso(utcnow())
        with self.db.tx() as c:
            c.execute("INSERT INTO fleet_rollouts (id, version, url, target, waves, abort_pct, "
                      "wave_timeout_s,"
                      " state, wave, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', 0, ?)",
                      (rid, version, url, target, json.dumps(waves), abort_pct, wave_timeout_s, now))
            c.executemany("INSERT INTO fleet_rollout_units (rollout, device, wave, state, updated_at) "
                          "VALUES (?, ?, ?, 'pending', ?)",
                          [(rid, d, i, now) for i, wave in enumerate(planned) for d in wave])
        log.info("rollout %s: %s to %d unit(s) in %d wave(s)", rid, version, len(devices), len(planned))
        return self.get(rid)

    def get(self, rid: str) -> dict[str, Any]:
        r = self.db.one("SELECT * FROM fleet_rollouts WHERE id=?", (rid,))
        if r is None:
            raise ReleaseError(f"rollout tidak dikenal / unknown rollout {rid}")
        r["waves"] = json.loads(r["waves"])
        r["units"] = self.db.query("SELECT device, wave, state, error, offered_at, updated_at, command_id "
                                   "FROM fleet_rollout_units WHERE rollout=? ORDER BY wave, device", (rid,))
        counts: dict[str, int] = dict.fromkeys(UNIT_STATES, 0)
        for u in r["units"]:
            counts[u["state"]] = counts.get(u["state"], 0) + 1
        r["counts"] = counts
        return r

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT id FROM fleet_rollouts ORDER BY id DESC LIMIT ?", (limit,))
        return [self.get(r["id"]) for r in rows]

    def unit_state(self, device: str) -> dict[str, Any] | None:
        """The device's row in the newest rollout that includes it."""
        return self.db.one("SELECT u.rollout, r.version, u.state, u.error FROM fleet_rollout_units u "
                           "JOIN fleet_rollouts r ON r.id=u.rollout WHERE u.device=? ORDER BY u.rollout DESC "
                           "LIMIT 1", (device,))

    def abort(self, rid: str, reason: str = "dibatalkan admin / aborted by an admin") -> dict[str, Any]:
        with self.db.tx() as c:
            c.execute("UPDATE fleet_rollouts SET state='aborted', reason=?, finished_at=? WHERE id=? AND "
                      "state='running'", (reason, iso(utcnow()), rid))
        return self.get(rid)

    # -- progress ----------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        for r in self.db.query("SELECT * FROM fleet_rollouts WHERE state='running'"):
            self._advance(r, now)

    def _set_unit(self, rid: str, device: str, state: str, error: str | None, now: datetime,
                  **extra: Any) -> None:
        cols = "".join(f", {k}=?" for k in extra)
        with self.db.tx() as c:
            c.execute(f"UPDATE fleet_rollout_units SET state=?, error=?, updated_at=?{cols} "  # noqa: S608
                      "WHERE rollout=? AND device=?", (state, error, iso(now), *extra.values(), rid, device))

    def _observe(self, r: dict[str, Any], u: dict[str, Any], now: datetime) -> str:
        """The unit's state from its command reply and its heartbeat's report."""
        version = r["version"]
        p = presence(self.db, u["device"]) or {}
        tel = p.get("telemetry") or {}
        if u["command_id"]:
            cmd = self.commands.get(u["command_id"])
            gone = (CmdState.FAILED, CmdState.EXPIRED, CmdState.TIMED_OUT)
            if cmd.state in gone and u["state"] == "offered":
                self._set_unit(r["id"], u["device"], "failed", cmd.error or cmd.state.value, now)
                return "failed"
            if cmd.state != CmdState.SUCCEEDED:
                return u["state"]
        rep = tel.get("update") or {}
        running = tel.get("firmware") or p.get("firmware")
        if rep.get("version") == version and rep.get("state") in UNIT_STATES:
            state, error = rep["state"], rep.get("error")
        elif running == version:
            state, error = "confirmed", None
        else:
            return u["state"]
        if state == "confirmed" and running != version:
            return u["state"]  # the report must agree with the version it runs
        if state != u["state"] or error != u["error"]:
            self._set_unit(r["id"], u["device"], state, error, now)
        return state

    def _advance(self, r: dict[str, Any], now: datetime) -> None:
        rid, wave = r["id"], r["wave"]
        units = self.db.query("SELECT * FROM fleet_rollout_units WHERE rollout=? AND wave=?", (rid, wave))
        if not units:
            self._finish(rid, "done", None, now)
            return
        expires = now + timedelta(seconds=r["wave_timeout_s"])
        for u in units:
            if u["state"] != "pending":
                continue
            p = presence(self.db, u["device"]) or {}
            if p.get("firmware") == r["version"]:
                self._set_unit(rid, u["device"], "confirmed", "sudah berjalan / already running", now)
                continue
            cmd = self.commands.create(u["device"], "update", {"version": r["version"], "url": r["url"]},
                                       timeout_s=60.0, expires_at=expires)
            self._set_unit(rid, u["device"], "offered", None, now, command_id=cmd.id, offered_at=iso(now))
        units = self.db.query("SELECT * FROM fleet_rollout_units WHERE rollout=? AND wave=?", (rid, wave))
        states = [self._observe(r, u, now) for u in units]
        offered = [t for u in units if (t := parse_iso(u["offered_at"])) is not None]
        started = min(offered, default=now)
        if any(s not in FINAL for s in states):
            if now - started < timedelta(seconds=r["wave_timeout_s"]):
                return
            for u, s in zip(units, states, strict=True):
                if s not in FINAL:
                    self._set_unit(rid, u["device"], "failed", f"batas waktu / timed out while {s}", now)
            states = [s if s in FINAL else "failed" for s in states]
        bad = sum(s in BAD for s in states)
        pct = 100.0 * bad / len(states)
        if pct > r["abort_pct"]:
            n = f"{bad}/{len(states)}"
            self._finish(rid, "aborted", f"gelombang {wave + 1}: {n} gagal / wave {wave + 1}: {n} failed "
                                         f"or rolled back ({pct:.0f}% > {r['abort_pct']:g}%)", now)
            return
        with self.db.tx() as c:
            c.execute("UPDATE fleet_rollouts SET wave=wave+1 WHERE id=? AND state='running'", (rid,))
        log.info("rollout %s: wave %d done (%d bad of %d)", rid, wave + 1, bad, len(states))

    def _finish(self, rid: str, state: str, reason: str | None, now: datetime) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE fleet_rollouts SET state=?, reason=?, finished_at=? WHERE id=? "
                      "AND state='running'",
                      (state, reason, iso(now), rid))
        log.warning("rollout %s %s%s", rid, state, f": {reason}" if reason else "")


def select_units(fleet: Any, *, group: str | None = None,
                 percent: float | None = None) -> tuple[list[str], str]:
    """Enabled units of a group, or a stable ``percent`` % of the enabled fleet; and a label."""
    enabled = sorted(d.id for d in fleet.registry.list() if d.enabled)
    if group:
        members = set(fleet.groups.members(group))
        return [d for d in enabled if d in members], f"group:{group}"
    pct = 100.0 if percent is None else percent
    if not 0 < pct <= 100:
        raise ReleaseError("persen harus 0..100 / percent must be in (0, 100]")
    order = sorted(enabled, key=lambda d: hashlib.sha256(d.encode()).hexdigest())
    return order[:math.ceil(len(order) * pct / 100)], f"percent:{pct:g}"

"""Health watch: heartbeat lateness, fault episodes, notices.

Presence is the gateway's ``devices`` row, written by the one consumer of
unit status and telemetry (the ingest); the watch reads the rows that changed
since its last look (:meth:`HealthWatch.poll`, every tick) and turns them
into episodes, and clears ``online`` when a heartbeat is late.

A fault is an *episode*: opened once when first seen, closed when the unit
reports it gone, one notice at each edge. A stuck button the unit reports in
every heartbeat is still one episode; the unique index
``faults_one_open(device, fault) WHERE closed_at IS NULL`` makes "one open
episode per fault" a property of the database, not of this code.

Offline is a fault too: opened by the unit's will (``Status offline``) or by
a heartbeat later than ``late_factor`` x the unit's interval, closed by the
next sign of life. A clean stop (the agent's own ``offline``, reason
``shutdown``) is recorded as an event and the unit as offline, not a fault.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text, update

from gateway.fleet.desired import ConfigService
from gateway.fleet.notify import Notice, Notifier
from gateway.fleet.settings import HealthSettings
from gateway.fleet.sql import FleetDB, iso, utcnow
from gateway.store.models import Device
from protocol.fleet import Registration, Status, Telemetry

log = logging.getLogger(__name__)

OFFLINE = "offline"
#: the offline status reason of a unit that was stopped cleanly (the agent's own last words)
CLEAN_STOP = "shutdown"
SELF_TEST = "self_test_failed"
#: faults that only their own signal closes (not the next telemetry)
_STICKY = {OFFLINE, SELF_TEST}
#: how far back each poll looks again (rows applied already are skipped by timestamp)
POLL_MARGIN = timedelta(seconds=10)
_BAD_REGISTRATION = {Registration.NOT_REGISTERED, Registration.DENIED, Registration.SEARCHING}


def derived_faults(t: Telemetry, s: HealthSettings) -> dict[str, str]:
    """``{fault: detail}`` from one heartbeat: the unit's own list plus
    thresholds central applies."""
    out = {f: "" for f in t.faults}
    if t.signal_dbm is not None and t.signal_dbm < s.weak_signal_dbm:
        out["weak_signal"] = f"{t.signal_dbm} dBm"
    if t.registration in _BAD_REGISTRATION:
        out["not_registered"] = t.registration.value
    if t.storage_low or (t.storage_free_mb is not None and t.storage_free_mb < s.storage_min_mb):
        out["storage_low"] = f"{t.storage_free_mb} MB free" if t.storage_free_mb is not None else ""
    return out


class HealthWatch:
    """Applies status/telemetry/self-test results to presence and episodes."""

    def __init__(self, db: FleetDB, config: ConfigService, settings: HealthSettings,
                 notifier: Notifier, *, started_at: datetime | None = None) -> None:
        self.db = db
        self.config = config
        self.settings = settings
        self.notifier = notifier
        # a restarted watch gives every unit a full window before calling it late
        self.started_at = started_at or utcnow()
        # device -> (previous depth, rising streak, depth when the episode opened)
        self._outbox: dict[str, tuple[int, int, int | None]] = {}
        # what poll() has applied: newest timestamp seen, and per device (status_at, telemetry_at)
        self._cursor: datetime | None = None
        self._seen: dict[str, list[datetime | None]] = {}
        # open episodes while poll() applies rows (None outside it)
        self._open: set[tuple[str, str]] | None = None

    def outbox_fault(self, device: str, depth: int) -> str | None:
        """``outbox_growing`` detail, or None. Above ``outbox_max``, or rising on
        ``outbox_rising_beats`` heartbeats in a row; once open it stays open
        until the depth is back to half of what it was (no episode per wobble)."""
        prev, streak, opened = self._outbox.get(device, (depth, 0, None))
        streak = streak + 1 if depth > prev else (streak if depth == prev else 0)
        s = self.settings
        if opened is None and (depth > s.outbox_max or streak >= s.outbox_rising_beats):
            opened = depth
        elif opened is not None and depth <= opened // 2 and depth <= s.outbox_max:
            opened = None
        self._outbox[device] = (depth, streak, opened)
        return f"depth {depth}" if opened is not None else None

    # -- episodes ----------------------------------------------------------
    def open_fault(self, device: str, fault: str, detail: str = "", at: datetime | None = None) -> bool:
        """Open an episode unless one is open; True when a new one began."""
        if self._is_open(device, fault):  # the common case costs a read, not an fsync
            return False
        with self.db.tx() as c:
            cur = c.execute(
                "INSERT INTO fleet_faults (device, fault, detail, opened_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING", (device, fault, detail[:200], iso(at or utcnow())))
            opened = cur.rowcount == 1
        if opened:
            log.warning("fault opened: %s %s %s", device, fault, detail)
            if self._open is not None:
                self._open.add((device, fault))
        return opened

    def _is_open(self, device: str, fault: str) -> bool:
        if self._open is not None:  # inside poll(): one read for all the rows it applies
            return (device, fault) in self._open
        return self.db.one("SELECT 1 AS x FROM fleet_faults WHERE device=? AND fault=? AND closed_at IS NULL",
                           (device, fault)) is not None

    def close_fault(self, device: str, fault: str, at: datetime | None = None) -> bool:
        if not self._is_open(device, fault):
            return False
        with self.db.tx() as c:
            cur = c.execute("UPDATE fleet_faults SET closed_at=? WHERE device=? AND fault=? "
                            "AND closed_at IS NULL",
                            (iso(at or utcnow()), device, fault))
            closed = cur.rowcount == 1
        if closed:
            log.info("fault closed: %s %s", device, fault)
        if self._open is not None:
            self._open.discard((device, fault))
        return closed

    def open_faults(self, device: str | None = None) -> list[dict[str, Any]]:
        if device:
            return self.db.query("SELECT * FROM fleet_faults WHERE device=? AND closed_at IS NULL "
                                 "ORDER BY id",
                                 (device,))
        return self.db.query("SELECT * FROM fleet_faults WHERE closed_at IS NULL ORDER BY id")

    def faults(self, device: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        if device:
            return self.db.query("SELECT * FROM fleet_faults WHERE device=? ORDER BY id DESC LIMIT ?",
                                 (device, limit))
        return self.db.query("SELECT * FROM fleet_faults ORDER BY id DESC LIMIT ?", (limit,))

    def event(self, device: str, kind: str, detail: str = "", at: datetime | None = None) -> None:
        with self.db.tx() as c:
            c.execute("INSERT INTO fleet_events (device, kind, detail, at) VALUES (?, ?, ?, ?)",
                      (device, kind, detail[:200], iso(at or utcnow())))

    def events(self, device: str, *, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM fleet_events WHERE device=? ORDER BY id DESC LIMIT ?",
                             (device, limit))

    # -- inputs ------------------------------------------------------------
    def on_status(self, device: str, st: Status, now: datetime | None = None, *,
                  first: bool = False) -> None:
        """Episodes from a status the ingest stored. ``first``: stored before
        the watch started (its event was recorded then, not again)."""
        now = now or utcnow()
        if st.state == "online":
            self.close_fault(device, OFFLINE, now)
            if st.reason == "power_restored" and not first:
                self.event(device, "power_restored", f"boot {st.boot_id or '?'}", now)
        elif st.reason == CLEAN_STOP:  # stopped on purpose (SIGTERM, systemctl stop): not a fault
            if not first:
                self.event(device, "stopped", "clean stop (shutdown)", now)
        else:
            self.open_fault(device, OFFLINE, f"status offline ({st.reason or 'will'})", now)

    def on_telemetry(self, device: str, t: Telemetry, now: datetime | None = None) -> None:
        now = now or utcnow()
        self.close_fault(device, OFFLINE, now)
        current = derived_faults(t, self.settings)
        growing = self.outbox_fault(device, t.outbox_depth)
        if growing:
            current["outbox_growing"] = growing
        for fault, detail in current.items():
            self.open_fault(device, fault, detail, now)
        if t.self_test is not None:  # the last self-test, the daily one too (revision 3)
            self.on_self_test(device, t.self_test.ok, ", ".join(t.self_test.failed), now)
        open_now = ([f for d, f in self._open if d == device] if self._open is not None
                    else [r["fault"] for r in self.open_faults(device)])
        for fault in open_now:
            if fault not in current and fault not in _STICKY:
                self.close_fault(device, fault, now)

    def poll(self, enabled: set[str] | None = None) -> dict[str, int]:
        """Apply what the ingest stored since the last poll: each new status
        and heartbeat of an enabled unit, once. Returns how many of each.
        Two heartbeats of one unit between two polls count as the newer one."""
        with self.db.gdb.read_session() as s:
            q = select(Device.id, Device.last_status, Device.status_reason, Device.boot_id,
                       Device.firmware, Device.status_at, Device.last_telemetry, Device.telemetry_at)
            if self._cursor is not None:
                # a margin: another instance's batch may commit a little after a newer one
                since = self._cursor - POLL_MARGIN
                q = q.where(or_(Device.status_at >= since, Device.telemetry_at >= since))
            rows = s.execute(q).all()
            if rows:
                self._open = {(d, f) for d, f in s.execute(
                    text("SELECT device, fault FROM fleet_faults WHERE closed_at IS NULL"))}
        applied = {"status": 0, "telemetry": 0}
        try:
            self._apply(rows, enabled, applied)
        finally:
            self._open = None
        return applied

    def _apply(self, rows: Any, enabled: set[str] | None, applied: dict[str, int]) -> None:
        for r in rows:
            if enabled is not None and r.id not in enabled:
                continue
            seen = self._seen.setdefault(r.id, [None, None])
            # stored before this watch started: its episode, not its event again
            first = r.status_at is not None and r.status_at < self.started_at
            if r.status_at is not None and r.status_at != seen[0] and r.last_status in ("online", "offline"):
                seen[0] = r.status_at
                self.on_status(r.id, Status(device=r.id, state=r.last_status, reason=r.status_reason,
                                            boot_id=r.boot_id), r.status_at, first=first)
                applied["status"] += 1
            if r.telemetry_at is not None and r.telemetry_at != seen[1] and r.last_telemetry:
                seen[1] = r.telemetry_at
                try:
                    t = Telemetry.model_validate(r.last_telemetry)
                except ValueError:  # stored by the ingest after validation; never expected
                    log.exception("stored telemetry of %s does not validate", r.id)
                    continue
                if r.status_at is None or r.telemetry_at >= r.status_at:
                    self.on_telemetry(r.id, t, r.telemetry_at)
                    applied["telemetry"] += 1
            for at in (r.status_at, r.telemetry_at):
                if at is not None and (self._cursor is None or at > self._cursor):
                    self._cursor = at

    def on_self_test(self, device: str, ok: bool, detail: str = "", now: datetime | None = None) -> None:
        if ok:
            self.close_fault(device, SELF_TEST, now)
        else:
            self.open_fault(device, SELF_TEST, detail, now)

    # -- time --------------------------------------------------------------
    def heartbeat_window(self, device: str, heartbeat_s: int | None = None) -> timedelta:
        """``heartbeat_s``: what the fleet's config says (0: nothing), else it is read."""
        hb = heartbeat_s if heartbeat_s is not None else self.config.heartbeat_s(device)
        hb = hb or self.settings.heartbeat_default_s
        return timedelta(seconds=hb * self.settings.late_factor)

    def tick(self, now: datetime | None = None, *, enabled: set[str] | None = None) -> list[str]:
        """Mark units with a late heartbeat offline; returns their ids."""
        now = now or utcnow()
        late = []
        with self.db.gdb.read_session() as s:
            online = s.execute(select(Device.id, Device.last_seen).where(Device.online.is_(True))).all()
        heartbeats = self.config.heartbeats() if online else {}
        for device, last_seen in online:
            if enabled is not None and device not in enabled:
                # Mosquitto drops a disabled unit's session on reload without its will:
                # record it offline here, with no fault episode (an admin did it)
                self._set_offline(device, "disabled")
                continue
            seen = max(last_seen or self.started_at, self.started_at)
            window = self.heartbeat_window(device, heartbeats.get(device, 0))
            if now - seen > window and self._set_offline(device, "heartbeat_late"):
                self.open_fault(device, OFFLINE, f"heartbeat late: none for {window.total_seconds():g}s", now)
                late.append(device)
        return late

    def _set_offline(self, device: str, reason: str) -> bool:
        with self.db.gdb.session() as s:
            res = s.execute(update(Device).where(Device.id == device, Device.online.is_(True))
                            .values(online=False, status_reason=reason))
            return bool(res.rowcount)  # type: ignore[attr-defined]

    def flush_notices(self) -> int:
        """Send the notices not yet sent (one per episode edge); returns how
        many went out. A failing channel is retried on the next call."""
        sent = 0
        for row in self.db.query("SELECT * FROM fleet_faults WHERE notified_open=0 OR "
                                 "(closed_at IS NOT NULL AND notified_close=0) ORDER BY id"):
            for kind, col, at in (("fault", "notified_open", row["opened_at"]),
                                  ("recovered", "notified_close", row["closed_at"])):
                if row[col] or at is None:
                    continue
                notice = Notice(device=row["device"], fault=row["fault"], kind=kind,
                                detail=row["detail"], at=at, episode=row["id"])
                try:
                    self.notifier.send(notice)
                except Exception as exc:  # any channel failure: keep it pending
                    log.warning("notice for %s %s not sent (%s); will retry", row["device"],
                                row["fault"], exc)
                    return sent
                with self.db.tx() as c:
                    c.execute(f"UPDATE fleet_faults SET {col}=1 WHERE id=?", (row["id"],))  # noqa: S608
                sent += 1
        return sent

    # -- views -------------------------------------------------------------
    def presence(self, device: str) -> dict[str, Any] | None:
        return presence(self.db, device)


def presence(db: FleetDB, device: str) -> dict[str, Any] | None:
    """The unit's presence as the ingest and the watch keep it (its ``devices`` row)."""
    with db.gdb.read_session() as s:
        d = s.get(Device, device)
        if d is None:
            return None
        return {"device": d.id, "online": bool(d.online), "last_seen": iso(d.last_seen),
                "last_status": d.last_status, "status_reason": d.status_reason, "boot_id": d.boot_id,
                "firmware": d.firmware, "telemetry": d.last_telemetry,
                "telemetry_at": iso(d.telemetry_at)}


def online_ids(db: FleetDB) -> set[str]:
    with db.gdb.read_session() as s:
        return set(s.scalars(select(Device.id).where(Device.online.is_(True))))

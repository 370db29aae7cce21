"""Health watch: presence, heartbeat lateness, fault episodes, notices.

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

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from central.db import Database, dumps, iso, parse_iso, utcnow
from central.desired import ConfigService
from central.notify import Notice, Notifier
from central.settings import HealthSettings
from protocol.fleet import Registration, Status, Telemetry

log = logging.getLogger(__name__)

OFFLINE = "offline"
#: the offline status reason of a unit that was stopped cleanly (the agent's own last words)
CLEAN_STOP = "shutdown"
SELF_TEST = "self_test_failed"
#: faults that only their own signal closes (not the next telemetry)
_STICKY = {OFFLINE, SELF_TEST}
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

    def __init__(self, db: Database, config: ConfigService, settings: HealthSettings,
                 notifier: Notifier, *, started_at: datetime | None = None) -> None:
        self.db = db
        self.config = config
        self.settings = settings
        self.notifier = notifier
        # a restarted watch gives every unit a full window before calling it late
        self.started_at = started_at or utcnow()
        # device -> (previous depth, rising streak, depth when the episode opened)
        self._outbox: dict[str, tuple[int, int, int | None]] = {}

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
                "INSERT INTO faults (device, fault, detail, opened_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING", (device, fault, detail[:200], iso(at or utcnow())))
            opened = cur.rowcount == 1
        if opened:
            log.warning("fault opened: %s %s %s", device, fault, detail)
        return opened

    def _is_open(self, device: str, fault: str) -> bool:
        return self.db.one("SELECT 1 AS x FROM faults WHERE device=? AND fault=? AND closed_at IS NULL",
                           (device, fault)) is not None

    def close_fault(self, device: str, fault: str, at: datetime | None = None) -> bool:
        if not self._is_open(device, fault):
            return False
        with self.db.tx() as c:
            cur = c.execute("UPDATE faults SET closed_at=? WHERE device=? AND fault=? AND closed_at IS NULL",
                            (iso(at or utcnow()), device, fault))
            closed = cur.rowcount == 1
        if closed:
            log.info("fault closed: %s %s", device, fault)
        return closed

    def open_faults(self, device: str | None = None) -> list[dict[str, Any]]:
        if device:
            return self.db.query("SELECT * FROM faults WHERE device=? AND closed_at IS NULL ORDER BY id",
                                 (device,))
        return self.db.query("SELECT * FROM faults WHERE closed_at IS NULL ORDER BY id")

    def faults(self, device: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        if device:
            return self.db.query("SELECT * FROM faults WHERE device=? ORDER BY id DESC LIMIT ?",
                                 (device, limit))
        return self.db.query("SELECT * FROM faults ORDER BY id DESC LIMIT ?", (limit,))

    def event(self, device: str, kind: str, detail: str = "", at: datetime | None = None) -> None:
        with self.db.tx() as c:
            c.execute("INSERT INTO events (device, kind, detail, at) VALUES (?, ?, ?, ?)",
                      (device, kind, detail[:200], iso(at or utcnow())))

    def events(self, device: str, *, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM events WHERE device=? ORDER BY id DESC LIMIT ?",
                             (device, limit))

    # -- inputs ------------------------------------------------------------
    def _seen(self, device: str, now: datetime, **cols: Any) -> None:
        names = ["online", "last_seen", *cols]
        vals = [1, iso(now), *cols.values()]
        sets = ", ".join(f"{n}=excluded.{n}" for n in names)
        marks = ",".join("?" * len(names))
        sql = (f"INSERT INTO presence (device, {', '.join(names)}) VALUES (?, {marks}) "  # noqa: S608
               f"ON CONFLICT(device) DO UPDATE SET {sets}")
        with self.db.tx() as c:
            c.execute(sql, (device, *vals))

    def on_status(self, device: str, st: Status, now: datetime | None = None, *,
                  episode: bool = True) -> None:
        """``episode=False``: record presence only (a disabled unit's will)."""
        now = now or utcnow()
        if st.state == "online":
            self._seen(device, now, last_status="online", status_reason=st.reason, boot_id=st.boot_id,
                       firmware=st.firmware)
            self.close_fault(device, OFFLINE, now)
            if st.reason == "power_restored":
                self.event(device, "power_restored", f"boot {st.boot_id or '?'}", now)
        else:
            with self.db.tx() as c:
                c.execute("INSERT INTO presence (device, online, last_status, status_reason) "
                          "VALUES (?, 0, 'offline', ?) ON CONFLICT(device) DO UPDATE SET online=0, "
                          "last_status='offline', status_reason=excluded.status_reason",
                          (device, st.reason))
            if st.reason == CLEAN_STOP:  # stopped on purpose (SIGTERM, systemctl stop): not a fault
                self.event(device, "stopped", "clean stop (shutdown)", now)
            elif episode:
                self.open_fault(device, OFFLINE, f"status offline ({st.reason or 'will'})", now)

    def on_telemetry(self, device: str, t: Telemetry, now: datetime | None = None) -> None:
        now = now or utcnow()
        self._seen(device, now, telemetry=dumps(t.model_dump(mode="json", exclude_none=True)))
        self.close_fault(device, OFFLINE, now)
        current = derived_faults(t, self.settings)
        growing = self.outbox_fault(device, t.outbox_depth)
        if growing:
            current["outbox_growing"] = growing
        for fault, detail in current.items():
            self.open_fault(device, fault, detail, now)
        if t.self_test is not None:  # the last self-test, the daily one too (revision 3)
            self.on_self_test(device, t.self_test.ok, ", ".join(t.self_test.failed), now)
        for row in self.open_faults(device):
            if row["fault"] not in current and row["fault"] not in _STICKY:
                self.close_fault(device, row["fault"], now)

    def on_self_test(self, device: str, ok: bool, detail: str = "", now: datetime | None = None) -> None:
        if ok:
            self.close_fault(device, SELF_TEST, now)
        else:
            self.open_fault(device, SELF_TEST, detail, now)

    # -- time --------------------------------------------------------------
    def heartbeat_window(self, device: str) -> timedelta:
        hb = self.config.heartbeat_s(device) or self.settings.heartbeat_default_s
        return timedelta(seconds=hb * self.settings.late_factor)

    def tick(self, now: datetime | None = None, *, enabled: set[str] | None = None) -> list[str]:
        """Mark units with a late heartbeat offline; returns their ids."""
        now = now or utcnow()
        late = []
        for r in self.db.query("SELECT device, last_seen FROM presence WHERE online=1"):
            if enabled is not None and r["device"] not in enabled:
                # Mosquitto drops a disabled unit's session on reload without its will:
                # record it offline here, with no fault episode (an admin did it)
                with self.db.tx() as c:
                    c.execute("UPDATE presence SET online=0, status_reason='disabled' WHERE device=?",
                              (r["device"],))
                continue
            seen = max(parse_iso(r["last_seen"]) or self.started_at, self.started_at)
            window = self.heartbeat_window(r["device"])
            if now - seen > window:
                with self.db.tx() as c:
                    c.execute("UPDATE presence SET online=0, status_reason='heartbeat_late' "
                              "WHERE device=? AND online=1", (r["device"],))
                self.open_fault(r["device"], OFFLINE,
                                f"heartbeat late: none for {window.total_seconds():g}s", now)
                late.append(r["device"])
        return late

    def flush_notices(self) -> int:
        """Send the notices not yet sent (one per episode edge); returns how
        many went out. A failing channel is retried on the next call."""
        sent = 0
        for row in self.db.query("SELECT * FROM faults WHERE notified_open=0 OR "
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
                    c.execute(f"UPDATE faults SET {col}=1 WHERE id=?", (row["id"],))  # noqa: S608
                sent += 1
        return sent

    # -- views -------------------------------------------------------------
    def presence(self, device: str) -> dict[str, Any] | None:
        r = self.db.one("SELECT * FROM presence WHERE device=?", (device,))
        if r and r.get("telemetry"):
            r["telemetry"] = json.loads(r["telemetry"])
        return r

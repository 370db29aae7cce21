"""What the unit says about itself: telemetry, faults, self-test, boot reason.

Why faults as short strings: the central health watch counts and alerts on
them (``stuck_button:medical``, ``mains_lost``, ``storage_low``...); a fault
is a state reported in every heartbeat while it lasts, never a stream of
incidents.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from protocol.fleet import Registration, Telemetry
from protocol.selftest import SelfTestSummary, SelfTestTrigger

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.clock import Clock
    from firmware.agent.config import UnitConfig
    from firmware.agent.hardware import Hardware
    from firmware.agent.modem import ModemPort
    from firmware.agent.store import Store
    from firmware.agent.updater import Updater
    from protocol.fleet import UnitSettings

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
WEAK_SIGNAL_DBM = -105


def cpu_temp_c() -> float | None:
    try:
        return round(int(THERMAL.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def kernel_boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return "unknown"


def boot_reason(previous_clean: str | None, previous_boot: str | None, boot: str) -> str:
    """Why this agent run started, from what the last run left in the database."""
    if previous_clean is None:
        return "first_start"
    if previous_clean == "1":
        return "reboot" if previous_boot != boot else "restart"
    # the last run never shut down cleanly
    return "power_restored" if previous_boot != boot else "agent_crashed"


def registration(value: str | None) -> Registration:
    try:
        return Registration(str(value)) if value else Registration.UNKNOWN
    except ValueError:
        return Registration.UNKNOWN


class HealthHost(Protocol):
    """What the health side reads of its unit (the agent satisfies it; mypy checks)."""

    cfg: UnitConfig
    version: str
    store: Store
    clock: Clock
    hw: Hardware
    modem: ModemPort
    updater: Updater
    health: Health  # the self-test reads registration and signal through it

    @property
    def settings(self) -> UnitSettings: ...

    @property
    def config_version(self) -> int: ...


class Health:
    def __init__(self, agent: HealthHost) -> None:
        self.a = agent
        self.started = time.monotonic()
        self.signal: int | None = None
        self.registration = Registration.UNKNOWN
        self.modem_faults: set[str] = set()
        self.link_faults: set[str] = set()
        self.self_test_faults: list[str] = []
        self.last_self_test: SelfTestSummary | None = None
        self.last_daily: str | None = None
        self.pin_faults: list[str] = []

    def refresh_modem(self) -> None:
        m = self.a.modem
        if not m.present:
            return
        sig = m.signal()
        self.signal = sig if isinstance(sig, int) and -130 <= sig <= 0 else None
        self.registration = registration(m.registration())
        if not self.a.clock.synced:  # no NTP yet: take the network's time from the modem
            self.a.clock.set_network_time(m.network_time())

    def faults(self) -> list[str]:
        a = self.a
        out = list(self.pin_faults)
        if a.store.storage_low:
            out.append("storage_low")
        if a.store.free_mb() < a.store.critical_reserve_mb:
            out.append("storage_full")  # incidents are being refused
        if a.modem.fault:
            out.append(a.modem.fault)
        if a.modem.present:
            if self.registration in (Registration.NOT_REGISTERED, Registration.DENIED):
                out.append("not_registered")
            if self.signal is not None and self.signal < WEAK_SIGNAL_DBM:
                out.append("weak_signal")
        out += sorted(self.modem_faults) + sorted(self.link_faults)
        out += self.self_test_faults
        seen: list[str] = []
        for f in out:
            if f not in seen:
                seen.append(f[:64])
        return seen[:32]

    def telemetry(self) -> Telemetry:
        a = self.a
        free = a.store.free_mb()
        return Telemetry(
            device=a.cfg.device_id, seq=a.store.next_seq(), **a.clock.stamp(),
            signal_dbm=self.signal, registration=self.registration,
            outbox_depth=a.store.outbox_depth(), uptime_s=int(time.monotonic() - self.started),
            cpu_temp_c=cpu_temp_c(), storage_free_mb=round(max(free, 0.0), 1),
            storage_low=a.store.storage_low, config_version=a.config_version, faults=self.faults(),
            firmware=a.version, update=a.updater.report(), self_test=self.last_self_test,
        )

    def self_test(self, trigger: SelfTestTrigger = SelfTestTrigger.COMMAND) -> dict[str, Any]:
        """Every check of firmware/agent/selftest.py; failures become
        ``self_test:<check>`` faults and the summary rides on every heartbeat."""
        from firmware.agent import selftest

        result = selftest.run(self.a, trigger)
        self.self_test_faults = [f"self_test:{name}" for name in result["failed"]]
        self.last_self_test = SelfTestSummary(at=result["at"], ok=result["ok"], trigger=trigger,
                                              failed=result["failed"][:32])
        with contextlib.suppress(Exception):  # a full or read-only card is itself in the result
            self.a.store.set_meta("self_test_last", self.last_self_test.model_dump_json())
        return result

    def restore_self_test(self, saved: str | None) -> None:
        """The last result survives a restart: central keeps seeing it until the next run."""
        if not saved:
            return
        with contextlib.suppress(ValueError):
            self.last_self_test = SelfTestSummary.model_validate_json(saved)
            self.self_test_faults = [f"self_test:{n}" for n in self.last_self_test.failed]

    def daily_due(self, now: datetime) -> bool:
        """True once a day at ``self_test_daily_at`` (local HH:MM)."""
        at = self.a.settings.self_test_daily_at
        if not at:
            return False
        today = now.strftime("%Y-%m-%d")
        if now.strftime("%H:%M") >= at and self.last_daily != today:
            with contextlib.suppress(Exception):
                self.a.store.set_meta("self_test_daily_last", today)
            self.last_daily = today
            return True
        return False

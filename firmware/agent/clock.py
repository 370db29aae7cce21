"""Device time: wall clock plus an honest "is it synced" flag.

Why: a Pi has no RTC and may boot with a stale clock. Records always carry
the per-device sequence number and monotonic uptime; ``device_time`` is the
best wall clock we have, and ``clock_synced`` says whether NTP
(systemd-timesyncd's flag file) or the modem's network time vouches for it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from protocol.base import MAX_YEAR, MIN_YEAR

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")


class Clock:
    def __init__(self, forced: bool | None = None) -> None:
        self.forced = forced
        self.started = time.monotonic()
        self._offset: float | None = None  # network time - system time, from the modem

    def set_network_time(self, when: datetime | None) -> None:
        if when is None:
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self._offset = when.timestamp() - time.time()

    @property
    def synced(self) -> bool:
        if self.forced is not None:
            return self.forced
        return self._offset is not None or TIMESYNC_FLAG.exists()

    def now(self) -> datetime:
        t = time.time()
        if self._offset is not None and not TIMESYNC_FLAG.exists():
            t += self._offset
        return datetime.fromtimestamp(t, UTC)

    def uptime_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def stamp(self) -> dict[str, object]:
        """The time fields of a DeviceMessage; a clock outside the years the
        protocol accepts (1970..2099) is left out rather than get the record
        refused."""
        now = self.now()
        ok = MIN_YEAR <= now.year <= MAX_YEAR
        return {"device_time": now if ok else None, "clock_synced": self.synced and ok,
                "uptime_ms": self.uptime_ms()}

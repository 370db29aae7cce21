"""The gateway's clock: aware UTC everywhere (the units' clocks are not trusted).

Tests of timers (SLA, escalation ladder) replace the source with
:func:`set_source` instead of sleeping for minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    return _source() if _source is not None else datetime.now(UTC)


def set_source(source: Callable[[], datetime] | None) -> None:
    """Use ``source`` as the clock (None: the system clock again)."""
    global _source
    _source = source


def as_utc(value: datetime | None) -> datetime | None:
    """Naive values are taken as UTC; aware ones are converted."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""GSM modem driver (SIM800 / SIM7600 class) over pyserial.

``Modem`` is the only door to the radio: the agent calls its methods and
reads ``Modem.events``; it never sees AT text. See ``docs/modem.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firmware.modem.errors import (
    ModemCommandError,
    ModemError,
    ModemPortError,
    ModemStateError,
    ModemTimeout,
)

if TYPE_CHECKING:  # pragma: no cover
    from firmware.modem.driver import PROFILES, Modem


def __getattr__(name: str) -> Any:
    """``Modem`` and ``PROFILES`` load the driver on first use: a unit without
    a modem, and every user of ``firmware.modem.events`` alone, never pays
    for it (~1.7 MB resident on a Pi)."""
    if name in ("Modem", "PROFILES"):
        from firmware.modem import driver

        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROFILES",
    "Modem",
    "ModemCommandError",
    "ModemError",
    "ModemPortError",
    "ModemStateError",
    "ModemTimeout",
]

"""GSM modem driver (SIM800 / SIM7600 class) over pyserial.

``Modem`` is the only door to the radio: the agent calls its methods and
reads ``Modem.events``; it never sees AT text. See ``docs/modem.md``.
"""

from firmware.modem.driver import PROFILES, Modem
from firmware.modem.errors import (
    ModemCommandError,
    ModemError,
    ModemPortError,
    ModemStateError,
    ModemTimeout,
)

__all__ = [
    "PROFILES",
    "Modem",
    "ModemCommandError",
    "ModemError",
    "ModemPortError",
    "ModemStateError",
    "ModemTimeout",
]

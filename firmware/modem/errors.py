"""Errors of the modem driver: one root, leaves that are also builtins."""

from __future__ import annotations

from firmware.errors import FirmwareError


class ModemError(FirmwareError):
    """Root of every error the modem driver raises."""


class ModemTimeout(ModemError, TimeoutError):
    """The modem did not finish a command in time (silent, rebooting, unplugged)."""


class ModemCommandError(ModemError):
    """The modem answered a command with a failure result code.

    ``result`` is the final line (``ERROR``, ``+CME ERROR: 10``, ``NO CARRIER``...)
    and ``code`` the numeric CME/CMS code when there is one.
    """

    def __init__(self, command: str, result: str, code: int | None = None) -> None:
        super().__init__(f"{command!r} -> {result}")
        self.command = command
        self.result = result
        self.code = code


class ModemPortError(ModemError, OSError):
    """The serial port could not be opened or broke."""


class ModemStateError(ModemError, ValueError):
    """The request makes no sense now (answer with nothing ringing, bad number...)."""

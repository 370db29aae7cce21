"""One root exception for the gateway package; leaves are also builtins."""

from protocol.configfile import ConfigFileError


class GatewayError(Exception):
    """Root of every error raised by the gateway."""


class ConfigError(GatewayError, ConfigFileError):
    """A site configuration that cannot be used; ``errors`` lists
    ``(file, line, key, message)`` for each problem found."""


class UnknownDevice(GatewayError, KeyError):
    """No device with that id is registered."""


class DuplicateDevice(GatewayError, ValueError):
    """A device with that id is already registered."""


class IllegalTransition(GatewayError, ValueError):
    """A lifecycle step that the state machine refuses (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(GatewayError, LookupError):
    """A record that does not exist (HTTP 404)."""


class InsecureConfig(GatewayError, ValueError):
    """A default or empty secret outside demo mode: the gateway refuses to start."""


class WorkerDied(GatewayError, RuntimeError):
    """A worker thread (ingest, dispatcher, SLA) died: the process exits
    non-zero so systemd restarts it."""

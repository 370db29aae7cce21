"""One root exception for the central package; each leaf is also a builtin."""


class CentralError(Exception):
    """Root of every error raised by the admin tooling."""


class UnknownDevice(CentralError, KeyError):
    """No device with that id in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown device"


class UnknownCommand(CentralError, KeyError):
    """No command with that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown command"


class DeviceExists(CentralError, ValueError):
    """A device with that id is already registered."""


class DeviceRevoked(CentralError, PermissionError):
    """The device's credentials were revoked; it must be provisioned anew."""


class BadSetting(CentralError, ValueError):
    """A configuration key or value that the unit contract does not accept."""


class BrokerReloadError(CentralError, RuntimeError):
    """The broker could not be told to re-read its password file and ACL."""


class BrokerNotRunning(BrokerReloadError):
    """No broker process to reload (no pid file, or its pid is gone): the
    files are written and a broker started later reads them."""


class StateMissing(CentralError, FileNotFoundError):
    """Central's database does not exist yet; a read-only command does not create it."""


class BrokerUnavailable(CentralError, ConnectionError):
    """The admin client could not connect to the broker."""


class CommandTimeout(CentralError, TimeoutError):
    """A unit did not answer a command within its timeout."""


class RegistryUnavailable(CentralError, RuntimeError):
    """The configured device registry (the gateway's database) cannot be used."""


class ReleaseError(CentralError, ValueError):
    """A release could not be built, signed or rolled out as asked."""

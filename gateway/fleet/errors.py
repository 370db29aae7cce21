"""One root exception for the fleet wing and `siaga admin`; each leaf is also a builtin."""


class FleetError(Exception):
    """Root of every error raised by the fleet wing and the admin tooling."""


class UnknownDevice(FleetError, KeyError):
    """No device with that id in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown device"


class UnknownCommand(FleetError, KeyError):
    """No command with that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown command"


class DeviceExists(FleetError, ValueError):
    """A device with that id is already registered."""


class DeviceRevoked(FleetError, PermissionError):
    """The device's credentials were revoked; it must be provisioned anew."""


class BadSetting(FleetError, ValueError):
    """A configuration key or value that the unit contract does not accept."""


class BrokerReloadError(FleetError, RuntimeError):
    """The broker could not be told to re-read its password file and ACL."""


class BrokerNotRunning(BrokerReloadError):
    """No broker process to reload (no pid file, or its pid is gone): the
    files are written and a broker started later reads them."""


class StateMissing(FleetError, FileNotFoundError):
    """The gateway database does not exist yet; a command never creates it."""


class BrokerUnavailable(FleetError, ConnectionError):
    """The admin client could not connect to the broker."""


class CommandTimeout(FleetError, TimeoutError):
    """A unit did not answer a command within its timeout."""


class RegistryUnavailable(FleetError, RuntimeError):
    """The configured device registry (the gateway's database) cannot be used."""


class ReleaseError(FleetError, ValueError):
    """A release could not be built, signed or rolled out as asked."""

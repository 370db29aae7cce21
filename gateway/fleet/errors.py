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


class BadSetting(FleetError, ValueError):
    """A configuration key or value that the unit contract does not accept."""


class BrokerUnavailable(FleetError, ConnectionError):
    """The admin client could not connect to the broker."""


class CommandTimeout(FleetError, TimeoutError):
    """A unit did not answer a command within its timeout."""


class RegistryUnavailable(FleetError, RuntimeError):
    """The configured device registry (the gateway's database) cannot be used."""


class ReleaseError(FleetError, ValueError):
    """A release could not be built, signed or rolled out as asked."""

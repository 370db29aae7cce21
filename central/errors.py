"""Errors of the admin host's own jobs (broker files and reload,
provisioning); everything else raises :mod:`gateway.fleet.errors`, whose
root :class:`FleetError` is re-exported here for the broker helpers."""

from gateway.fleet.errors import FleetError

__all__ = ["BrokerNotRunning", "BrokerReloadError", "DeviceRevoked", "FleetError"]


class DeviceRevoked(FleetError, PermissionError):
    """The device's credentials were revoked; it must be provisioned anew."""


class BrokerReloadError(FleetError, RuntimeError):
    """The broker could not be told to re-read its password file and ACL."""


class BrokerNotRunning(BrokerReloadError):
    """No broker process to reload (no pid file, or its pid is gone): the
    files are written and a broker started later reads them."""

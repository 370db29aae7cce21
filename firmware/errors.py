"""One root exception for the firmware package."""


class FirmwareError(Exception):
    """Root of every error raised by the unit agent, modem driver and simulator."""

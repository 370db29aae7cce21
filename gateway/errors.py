"""One root exception for the gateway package."""


class GatewayError(Exception):
    """Root of every error raised by the gateway."""

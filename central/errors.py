"""One root exception for the central package."""


class CentralError(Exception):
    """Root of every error raised by the admin tooling."""

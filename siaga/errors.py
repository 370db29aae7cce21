"""One root exception for the `siaga` package (console script and demo)."""


class SiagaError(Exception):
    """Root of every error raised by the console script and the demo."""


class DemoUnitError(SiagaError, RuntimeError):
    """A simulated unit of the demo exited or never became ready."""

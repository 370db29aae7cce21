"""One root exception for the wire contract; each leaf is also a builtin."""


class ProtocolError(Exception):
    """Root of every error the protocol package raises."""

    #: short machine-readable reason, used as a rejection counter label
    reason = "protocol_error"


class BadTopic(ProtocolError, ValueError):
    """A topic that is not part of protocol v1."""

    reason = "bad_topic"


class PayloadError(ProtocolError, ValueError):
    """A payload that cannot be accepted; ``reason`` says which rule it broke."""

    def __init__(self, reason: str, message: str) -> None:
        message = message.replace("\x00", "\\0")  # it may quote the payload; NUL goes nowhere
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"

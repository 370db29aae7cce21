"""Events the modem driver puts on its queue.

This is the contract between the driver (``firmware.modem``) and its users
(the unit agent): the reader thread never calls user code; it turns what the
modem says into these events, and the agent takes them from
``Modem.events`` (a ``queue.Queue``) on its own thread.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class CallState(enum.StrEnum):
    IDLE = "idle"
    RINGING = "ringing"  # incoming, with caller id when the network gives it
    DIALLING = "dialling"  # outgoing, before the far end rings
    ALERTING = "alerting"  # outgoing, far end ringing
    ACTIVE = "active"
    ENDED = "ended"


class EndReason(enum.StrEnum):
    REMOTE_HANGUP = "remote_hangup"
    LOCAL_HANGUP = "local_hangup"
    ABANDONED = "abandoned"  # caller hung up while it rang here
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    NO_CARRIER = "no_carrier"
    NO_DIALTONE = "no_dialtone"
    MODEM_RESET = "modem_reset"  # modem rebooted / was reset mid-call
    MAX_DURATION = "max_duration"  # neither side ended it: the driver's limit did
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ModemEvent:
    """Base: ``at`` is the host's monotonic clock when the event was seen."""

    at: float


@dataclass(frozen=True, slots=True)
class Ringing(ModemEvent):
    number: str | None = None


@dataclass(frozen=True, slots=True)
class Dialling(ModemEvent):
    number: str = ""


@dataclass(frozen=True, slots=True)
class Alerting(ModemEvent):
    pass


@dataclass(frozen=True, slots=True)
class CallActive(ModemEvent):
    number: str | None = None
    direction: str = "incoming"  # "incoming" | "outgoing"


@dataclass(frozen=True, slots=True)
class CallEnded(ModemEvent):
    reason: EndReason = EndReason.REMOTE_HANGUP
    duration_s: float = 0.0  # answer to end; 0 when never answered
    number: str | None = None
    direction: str = "incoming"
    answered: bool = False


@dataclass(frozen=True, slots=True)
class SmsReceived(ModemEvent):
    """One received message, its parts joined.

    ``number`` is the sender: ``+62...`` (international), digits, or a name
    (alphanumeric senders such as ``TELKOMSEL``). ``sent_at`` is the SMS
    centre's time stamp with its own time zone. ``parts`` is how many parts
    the sender announced; ``missing`` the sequence numbers that never came
    (then ``complete`` is False and ``text`` joins what did, in order).
    """

    number: str = ""
    text: str = ""
    sent_at: datetime | None = None
    parts: int = 1
    missing: tuple[int, ...] = ()
    encoding: str = "gsm7"  # gsm7 | 8bit | ucs2 (of the first part)

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True, slots=True)
class RegistrationChanged(ModemEvent):
    state: str = "unknown"  # protocol.fleet.Registration values


@dataclass(frozen=True, slots=True)
class NetworkTime(ModemEvent):
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ModemRestarted(ModemEvent):
    """The modem rebooted (unexpected RDY) or was reset by the watchdog, and
    has been re-initialised."""

    reason: str = ""
    resets: int = 0


@dataclass(frozen=True, slots=True)
class ModemFault(ModemEvent):
    """Something the agent should report in telemetry (under-voltage,
    SIM missing, silent modem that recovery could not bring back...)."""

    code: str = ""
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)

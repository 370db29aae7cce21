"""What units report: incidents and call records, and the gateway's ack."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from protocol.base import (
    Count,
    DeviceId,
    DeviceMessage,
    LongText,
    MessageId,
    PhoneNumber,
    Seq,
    ShortText,
    Wire,
    WireTime,
    require_id,
)
from protocol.categories import Category


class Source(enum.StrEnum):
    """How the report entered the system."""

    FIELD_BUTTON = "field_button"  # a citizen pressed a call box button
    PANEL_CALL = "panel_call"  # an operator classified a 112 call
    SMS = "sms"  # fallback path when IP is down
    OPERATOR = "operator"  # typed in the staff console


class CallType(enum.StrEnum):
    """What a call turned out to be, set by the operator (panel key or
    console). Only ``emergency`` and ``information`` calls can reach an OPD;
    the others are logged and counted (caller history, flagged numbers)."""

    EMERGENCY = "emergency"
    INFORMATION = "information"  # the caller wanted information, no emergency
    GHOST = "ghost"  # silent line: nobody speaks
    PRANK = "prank"
    TEST = "test"
    MISDIAL = "misdial"  # wrong number, or hung up before speaking (abandoned)


#: call types that never reach an OPD
JUNK_CALL_TYPES = frozenset({CallType.GHOST, CallType.PRANK, CallType.TEST, CallType.MISDIAL})


class Location(Wire):
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude, WGS 84 degrees")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude, WGS 84 degrees")
    label: ShortText | None = Field(None, description="Human-readable place, e.g. 'Jl. Pahlawan 12'")
    area: ShortText | None = Field(None, description="Kecamatan / kelurahan used by routing rules")


class Incident(DeviceMessage):
    """A report that becomes a case at the gateway."""

    category: Category
    source: Source
    location: Location | None = None
    description: LongText | None = None
    caller: PhoneNumber | None = None
    call_id: MessageId | None = Field(None, description="Call record this incident came from")
    button: ShortText | None = Field(None, description="Button name on a field box")
    call_type: CallType | None = Field(
        None, description="What the call was (panel calls; since contract revision 2). "
                          "ghost, prank, test and misdial never reach an OPD")


class CallDirection(enum.StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class CallEnd(enum.StrEnum):
    """Why a call ended."""

    REMOTE_HANGUP = "remote_hangup"
    LOCAL_HANGUP = "local_hangup"
    MISSED = "missed"  # rang, nobody answered, caller gave up or timed out
    ABANDONED = "abandoned"  # caller hung up while ringing
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    NO_CARRIER = "no_carrier"
    MODEM_RESET = "modem_reset"  # the modem rebooted or was reset mid-call
    ERROR = "error"


def _call_schema(schema: dict[str, Any]) -> None:
    require_id(schema)
    # the validator below, for clients written from the schema
    schema["if"] = {"properties": {"end_reason": {"enum": [CallEnd.MISSED.value, CallEnd.ABANDONED.value]}},
                    "required": ["end_reason"]}
    schema["then"] = {"properties": {"answer_s": {"type": "null"}}}


class CallRecord(DeviceMessage):
    """One call the unit handled: caller id, answer time and duration."""

    model_config = ConfigDict(json_schema_extra=_call_schema)

    direction: CallDirection
    number: PhoneNumber | None = Field(None, description="Caller id (incoming) or dialled number")
    ring_at: WireTime | None = None
    answered_at: WireTime | None = None
    ended_at: WireTime | None = None
    answer_s: float | None = Field(None, ge=0, le=86400, description="Ring to answer, seconds")
    duration_s: float = Field(0, ge=0, le=86400, description="Answer to end, seconds")
    end_reason: CallEnd
    operator: ShortText | None = Field(
        None, description="Who was signed in at the desk when the call was answered")
    call_type: CallType | None = Field(
        None, description="What the call was, when typed before it ended (since contract revision 2)")

    @model_validator(mode="after")
    def _answered_calls_have_answer_time(self) -> CallRecord:
        if self.end_reason in (CallEnd.MISSED, CallEnd.ABANDONED) and self.answer_s is not None:
            raise ValueError("a missed or abandoned call has no answer_s")
        return self


class DeskPhase(enum.StrEnum):
    IDLE = "idle"
    RINGING = "ringing"
    ACTIVE = "active"


class DeskState(Wire):
    """Retained on ``siaga/v1/dev/{panel}/desk`` (revision 2): the call now at
    this desk, so the console can show the caller's history while it rings.
    Not a record (no id/seq): the latest state is all that matters."""

    device: DeviceId
    phase: DeskPhase
    call_id: MessageId | None = None
    number: PhoneNumber | None = None
    flagged: bool = Field(False, description="The number is on the panel's flag list")
    operator: ShortText | None = None
    at: WireTime | None = None


#: most numbers one FlagList carries (each entry ~80 bytes: under MAX_PAYLOAD_BYTES)
MAX_FLAGS = 700


class FlaggedEntry(Wire):
    number: PhoneNumber
    until: WireTime | None = Field(None, description="End of a first (timed) flag; none: permanent")


class FlagList(Wire):
    """Retained on ``siaga/v1/dev/{panel}/flags`` (revision 2): the numbers
    flagged as repeat junk callers. A panel keeps the latest version it got
    (works offline) and lights its "flagged caller" LED while one rings; a
    flag never blocks a call. Versions only go up; the whole list each time."""

    version: Count = Field(description="Grows with every change of the list")
    numbers: list[FlaggedEntry] = Field(default_factory=list, max_length=MAX_FLAGS,
                                        description="At most 700 (the newest): fits 64 KiB")
    issued_at: WireTime | None = None


class AckItem(Wire):
    id: MessageId
    seq: Seq | None = None
    case: ShortText | None = Field(None, description="Case number assigned by the gateway")
    duplicate: bool = Field(False, description="Already stored before: ack again, store once")


class Rejection(Wire):
    id: MessageId | None = None
    reason: ShortText
    detail: ShortText | None = None


class Ack(Wire):
    """The gateway's end-to-end acknowledgement: these ids are durably stored."""

    stored: list[AckItem] = Field(default_factory=list, max_length=1000)
    rejected: list[Rejection] = Field(default_factory=list, max_length=1000)
    gateway_time: WireTime | None = Field(None, description="Gateway clock, for units without NTP")

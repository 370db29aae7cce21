"""Shared pieces of every payload model: strictness, size limits, id types.

Every bound here is also in the published JSON Schema, so a client written
from the schema and the models agree on what is valid (a test generates
payloads from the schema and checks the models accept exactly those).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from protocol.ids import DEVICE_ID_PATTERN, OPD_ID_PATTERN, ULID_PATTERN, new_id

#: the largest payload any topic accepts; the broker config uses the same bound
MAX_PAYLOAD_BYTES = 64 * 1024
#: the deepest nesting of JSON arrays/objects any payload may have
MAX_DEPTH = 32
#: the longest number literal (digits, sign, point, exponent) any payload may have
MAX_NUMBER_CHARS = 40
#: largest count, sequence number or version (exact in a double, as in JavaScript)
MAX_COUNT = 2**53

#: RFC 3339 date-times of 1970-01-01 to 2099-12-31 with a zone (``Z`` or
#: ``±hh:mm``), leap days included, at most microseconds. A Pi without an RTC
#: may start at the epoch, so 1970 is valid; nothing before or after converts
#: badly to UTC. ``[0-9]``, not ``\d``: a regex engine may take other scripts' digits.
_YEAR = r"(19[7-9][0-9]|20[0-9][0-9])"
_LEAP = r"(19(7[26]|8[048]|9[26])|20(0[048]|[2468][048]|[13579][26]))"
_DATE = (rf"({_YEAR}-(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
         rf"|{_YEAR}-(0[469]|11)-(0[1-9]|[12][0-9]|30)"
         rf"|{_YEAR}-02-(0[1-9]|1[0-9]|2[0-8])"
         rf"|{_LEAP}-02-29)")
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9]"
TIME_PATTERN = rf"^{_DATE}T{_CLOCK}:[0-5][0-9](\.[0-9]{{1,6}})?(Z|[+-]{_CLOCK})$"
_time_re = re.compile(TIME_PATTERN, re.ASCII)
MIN_YEAR, MAX_YEAR = 1970, 2099

#: text without NUL (PostgreSQL cannot store it; no protocol field needs it)
_NO_NUL = r"^[^\x00]*$"


def _wire_time(value: Any) -> Any:
    """Refuse what the schema refuses before pydantic's (laxer) parser sees
    it: numbers, bare dates, zone-less times, years outside 1970..2099."""
    if isinstance(value, str):
        if not _time_re.fullmatch(value):
            raise PydanticCustomError(
                "wire_time", "must be an RFC 3339 date-time with a zone, years 1970..2099")
        # parsed here: after a before-validator pydantic validates a Python
        # value, and strict mode takes no string for a datetime there
        return datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or not MIN_YEAR <= value.year <= MAX_YEAR:
            raise PydanticCustomError("wire_time", "must be zone-aware, years 1970..2099")
        return value
    raise PydanticCustomError("wire_time", "must be an RFC 3339 date-time string")


#: a point in time on the wire (see TIME_PATTERN)
WireTime = Annotated[
    AwareDatetime,
    BeforeValidator(_wire_time),
    WithJsonSchema({"type": "string", "pattern": TIME_PATTERN,
                    "description": "RFC 3339 date-time with zone, years 1970..2099"}),
]

MessageId = Annotated[str, StringConstraints(pattern=ULID_PATTERN)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
OpdId = Annotated[str, StringConstraints(pattern=OPD_ID_PATTERN)]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9*#]{1,20}$")]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)]
LongText = Annotated[str, StringConstraints(max_length=2000, pattern=_NO_NUL)]
Seq = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


def not_bool(value: Any) -> Any:
    # pydantic's Literal[1] and int enums take True (True == 1 in Python), even when strict
    if isinstance(value, bool):
        raise PydanticCustomError("literal_error", "Input should be 1")
    return value


def require_id(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "id" not in required:
        required.insert(0, "id")


class Wire(BaseModel):
    """Base of every payload: unknown fields are refused. Decoding from the
    wire (``protocol.codec``) is strict: no bool/int or string/number
    coercion; code building a model in Python may pass enum values as str.

    ``defer_build``: a model's validator and serializer are built on its first
    use, not at import. The unit agent imports every payload model but uses a
    few while idle (status, telemetry); building the rest at import cost it
    memory it never used (docs/unit-agent.md, Benchmark)."""

    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)

    v: Annotated[Literal[1], BeforeValidator(not_bool)] = Field(
        1, description="Protocol version of the payload")


class Identified(Wire):
    """A payload whose ``id`` is its idempotency key: required on the wire
    (an id-less record cannot be stored exactly once), generated when code
    builds one without it."""

    model_config = ConfigDict(json_schema_extra=require_id)

    id: MessageId = Field(default_factory=new_id, description="Stable ULID of this message")

    @model_validator(mode="before")
    @classmethod
    def _id_on_the_wire(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get("wire") and isinstance(data, dict) and "id" not in data:
            raise PydanticCustomError("missing_id", "id is required: it is the idempotency key")
        return data


class DeviceMessage(Identified):
    """A message a unit originates: it carries its own id and the device's
    sequence number, because the Pi's clock is not trusted (no RTC)."""

    device: DeviceId = Field(description="Device id; must equal the id in the topic")
    seq: Seq = Field(description="Per-device sequence number, never reused")
    device_time: WireTime | None = Field(
        None, description="Device wall clock when the record was made, if known"
    )
    clock_synced: bool = Field(
        False, description="True when device_time came from NTP or the network (modem)"
    )
    uptime_ms: Count = Field(0, description="Device monotonic uptime when recorded")

"""Shared pieces of every payload model: strictness, size limits, id types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from protocol.ids import DEVICE_ID_PATTERN, OPD_ID_PATTERN, ULID_PATTERN, new_id

#: the largest payload any topic accepts; the broker config uses the same bound
MAX_PAYLOAD_BYTES = 64 * 1024

MessageId = Annotated[str, StringConstraints(pattern=ULID_PATTERN)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
OpdId = Annotated[str, StringConstraints(pattern=OPD_ID_PATTERN)]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9*#]{1,20}$")]
ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=2000)]
Seq = Annotated[int, Field(ge=0, le=2**53)]


class Wire(BaseModel):
    """Base of every payload: unknown fields are refused, strings stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)

    v: Literal[1] = Field(1, description="Protocol version of the payload")


class DeviceMessage(Wire):
    """A message a unit originates: it carries its own id and the device's
    sequence number, because the Pi's clock is not trusted (no RTC)."""

    id: MessageId = Field(default_factory=new_id, description="Stable ULID of this message")
    device: DeviceId = Field(description="Device id; must equal the id in the topic")
    seq: Seq = Field(description="Per-device sequence number, never reused")
    device_time: datetime | None = Field(
        None, description="Device wall clock when the record was made, if known"
    )
    clock_synced: bool = Field(
        False, description="True when device_time came from NTP or the network (modem)"
    )
    uptime_ms: int = Field(0, ge=0, description="Device monotonic uptime when recorded")

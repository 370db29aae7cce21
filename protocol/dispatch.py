"""What the gateway sends to an OPD terminal (MQTT) or webhook."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from protocol.base import (
    Count,
    DeviceId,
    LongText,
    MessageId,
    OpdId,
    ShortText,
    Wire,
    WireTime,
    not_bool,
)
from protocol.categories import Category, Priority
from protocol.reports import Location, Source


class Dispatch(Wire):
    """One case sent to one OPD. ``id`` is the dispatch id (idempotency key)."""

    id: MessageId
    case: ShortText = Field(description="Case number, e.g. MDN-2026-000123")
    incident_id: MessageId
    opd: OpdId
    category: Category
    priority: Annotated[Priority, BeforeValidator(not_bool)]
    source: Source
    device: DeviceId | None = None
    location: Location | None = None
    description: LongText | None = None
    received_at: WireTime
    sla_ack_min: Count | None = None
    sla_resolve_min: Count | None = None

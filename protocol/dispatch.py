"""What the gateway sends to an OPD terminal (MQTT) or webhook."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from protocol.base import DeviceId, LongText, MessageId, OpdId, ShortText, Wire
from protocol.categories import Category, Priority
from protocol.reports import Location, Source


class Dispatch(Wire):
    """One case sent to one OPD. ``id`` is the dispatch id (idempotency key)."""

    id: MessageId
    case: ShortText = Field(description="Case number, e.g. MDN-2026-000123")
    incident_id: MessageId
    opd: OpdId
    category: Category
    priority: Priority
    source: Source
    device: DeviceId | None = None
    location: Location | None = None
    description: LongText | None = None
    received_at: datetime
    sla_ack_min: int | None = None
    sla_resolve_min: int | None = None

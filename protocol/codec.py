"""Encode payloads to JSON bytes and decode them with every check the
contract makes: size, JSON syntax, schema, and topic/payload device match.

Every failure raises :class:`PayloadError` whose ``reason`` is a short label
for rejection counters and whose message says what exactly is wrong.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from protocol.base import MAX_PAYLOAD_BYTES, Wire
from protocol.dispatch import Dispatch
from protocol.errors import PayloadError
from protocol.fleet import (
    Command,
    CommandResult,
    DesiredConfig,
    ReportedConfig,
    Status,
    Telemetry,
)
from protocol.reports import Ack, CallRecord, Incident
from protocol.topics import DeviceTopic, ParsedTopic, parse_device_topic

M = TypeVar("M", bound=BaseModel)

#: the payload model of each device topic kind
MODELS: dict[DeviceTopic, type[Wire]] = {
    DeviceTopic.INCIDENT: Incident,
    DeviceTopic.CALL: CallRecord,
    DeviceTopic.ACK: Ack,
    DeviceTopic.STATUS: Status,
    DeviceTopic.TELEMETRY: Telemetry,
    DeviceTopic.CONFIG_DESIRED: DesiredConfig,
    DeviceTopic.CONFIG_REPORTED: ReportedConfig,
    DeviceTopic.CMD: Command,
    DeviceTopic.CMD_RES: CommandResult,
}

#: every payload model by its schema name, for `siaga protocol schema`
_PAYLOADS: list[type[Wire]] = [*MODELS.values(), Dispatch]
ALL_MODELS: dict[str, type[Wire]] = {m.__name__: m for m in _PAYLOADS}


def encode(model: BaseModel) -> bytes:
    """Compact JSON bytes; ``None`` fields are left out to keep packets small."""
    return model.model_dump_json(exclude_none=True).encode()


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{loc}: {e['msg']}")
    more = len(err.errors()) - 5
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def decode(model: type[M], payload: bytes | str) -> M:
    """Parse ``payload`` as ``model`` or raise PayloadError with the reason."""
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError("too_large", f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("malformed_json", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("malformed_json", "payload must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError("invalid", f"{model.__name__}: {_describe(exc)}") from None


def decode_device_message(topic: str, payload: bytes | str) -> tuple[ParsedTopic, Wire]:
    """Decode a message on a device topic and check that a payload naming a
    device names the same one as the topic (a spoofing guard)."""
    parsed = parse_device_topic(topic)
    msg = decode(MODELS[parsed.kind], payload)
    payload_device = getattr(msg, "device", None)
    if payload_device is not None and payload_device != parsed.device:
        raise PayloadError(
            "device_mismatch",
            f"payload device {payload_device!r} differs from topic device {parsed.device!r}",
        )
    return parsed, msg

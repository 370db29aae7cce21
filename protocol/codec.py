"""Encode payloads to JSON bytes and decode them with every check the
contract makes: size, encoding, nesting depth, JSON syntax, finite and
bounded numbers, the schema (strictly: no type coercion), and topic/payload
device match.

Every failure raises :class:`PayloadError` whose ``reason`` is a short label
for rejection counters and whose message says what exactly is wrong. Nothing
else ever escapes ``decode``: one hostile payload must not stop a receiver.
The cheap checks (size, encoding, a bracket scan for depth) run before any
JSON parser recurses into the text.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from protocol.base import MAX_DEPTH, MAX_NUMBER_CHARS, MAX_PAYLOAD_BYTES, Wire
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
from protocol.reports import Ack, CallRecord, DeskState, FlagList, Incident
from protocol.selftest import SelfTestReport
from protocol.topics import DeviceTopic, ParsedTopic, parse_device_topic

M = TypeVar("M", bound=BaseModel)

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # UTF-32 LE starts like UTF-16 LE
#: a JSON string literal (unrolled loop: linear time) and a bracket, for the depth scan
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")

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
    DeviceTopic.FLAGS: FlagList,
    DeviceTopic.DESK: DeskState,
}

#: every payload model by its schema name, for `siaga protocol schema`
_PAYLOADS: list[type[Wire]] = [*MODELS.values(), Dispatch, SelfTestReport]
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


def _text(payload: bytes | str) -> str:
    """Size, encoding and nesting checks, all before any JSON parsing."""
    if isinstance(payload, str):
        try:
            payload = payload.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError("malformed_json", "text is not valid Unicode") from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("too_large", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if payload.startswith(_BOMS):
        raise PayloadError("malformed_json", "a byte-order mark: payloads are UTF-8 without BOM")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("malformed_json", f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    if payload.count(b"[") + payload.count(b"{") <= MAX_DEPTH:
        return text  # cannot nest deeper (the common case: no scan)
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_DEPTH:
            raise PayloadError("too_deep", f"nested deeper than {MAX_DEPTH} levels")
    return text


def _number(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(literal: str) -> Any:
        if len(literal) > MAX_NUMBER_CHARS:
            raise PayloadError("out_of_range", f"number literal longer than {MAX_NUMBER_CHARS} characters")
        value = kind(literal)
        if not math.isfinite(value):
            raise PayloadError("out_of_range", f"number {literal[:20]} is beyond a double")
        return value
    return parse


def _constant(name: str) -> Any:
    raise PayloadError("non_finite", f"{name} is not JSON: numbers must be finite")


def parse_json(payload: bytes | str) -> Any:
    """The JSON value of ``payload`` after every check of the contract that
    is not the schema (size, UTF-8, depth, finite and bounded numbers).
    Raises only PayloadError."""
    return _parse(payload)[1]


def _parse(payload: bytes | str) -> tuple[str, Any]:
    try:
        text = _text(payload)
        return text, json.loads(text, parse_int=_number(int), parse_float=_number(float),
                                parse_constant=_constant)
    except PayloadError:
        raise
    except json.JSONDecodeError as exc:
        raise PayloadError("malformed_json", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise PayloadError("too_deep", "nested too deeply") from None
    except Exception as exc:  # never let a payload raise anything but a rejection
        raise PayloadError("undecodable", f"{type(exc).__name__}: {str(exc)[:150]}") from None


def peek(payload: bytes | str, key: str) -> Any:
    """``payload[key]`` of a JSON object, or None; never raises (for naming
    the id of a rejected message)."""
    try:
        data = parse_json(payload)
    except PayloadError:
        return None
    return data.get(key) if isinstance(data, dict) else None


def _reason(err: ValidationError) -> str:
    types = {e["type"] for e in err.errors()}
    if "missing_id" in types:
        return "missing_id"
    if types & {"json_invalid", "json_type"}:
        return "malformed_json"
    if "recursion_loop" in types:
        return "too_deep"
    return "invalid"


def decode(model: type[M], payload: bytes | str) -> M:
    """Parse ``payload`` as ``model`` or raise PayloadError with the reason;
    nothing else is ever raised, whatever the bytes."""
    text, data = _parse(payload)
    if not isinstance(data, dict):
        raise PayloadError("malformed_json", "payload must be a JSON object")
    try:
        # strict: no bool/int, string/number coercion; "wire" makes ids required
        return model.model_validate_json(text, strict=True, context={"wire": True})
    except ValidationError as exc:
        raise PayloadError(_reason(exc), f"{model.__name__}: {_describe(exc)}") from None
    except RecursionError:
        raise PayloadError("too_deep", "nested too deeply") from None
    except Exception as exc:
        raise PayloadError("undecodable", f"{type(exc).__name__}: {str(exc)[:150]}") from None


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

"""The hostile payloads of issue 21, for any topic: what a device client
written from the docs sent to stop the centre. Each comes with the reason
the decoder must give."""

from __future__ import annotations

import json
from typing import Any

from protocol.codec import encode
from protocol.ids import new_id
from protocol.topics import DeviceTopic

NEST_20K = b"[" * 10_000 + b"]" * 10_000
NEST_80K = b"[" * 40_000 + b"]" * 40_000


def valid(kind: DeviceTopic, device: str) -> dict[str, Any]:
    """A valid payload of ``kind`` from ``device`` as a JSON object."""
    from protocol.fleet import CommandResult, CommandStatus, ReportedConfig, Telemetry, UnitSettings
    from protocol.reports import Incident, Source

    model = {
        DeviceTopic.INCIDENT: lambda: Incident(device=device, seq=1, category="fire",
                                               source=Source.FIELD_BUTTON),
        DeviceTopic.TELEMETRY: lambda: Telemetry(device=device, seq=1, signal_dbm=-70, outbox_depth=0),
        DeviceTopic.CONFIG_REPORTED: lambda: ReportedConfig(device=device, version=1,
                                                            settings=UnitSettings(volume=5)),
        DeviceTopic.CMD_RES: lambda: CommandResult(device=device, seq=1, command_id=new_id(),
                                                   status=CommandStatus.OK, result={"ok": True}),
    }[kind]()
    return json.loads(encode(model))


def payloads(kind: DeviceTopic, device: str) -> list[tuple[bytes, str]]:
    """``(payload, expected reason)`` pairs for a unit-to-centre topic."""
    base = valid(kind, device)

    def with_(**changes: Any) -> bytes:
        return json.dumps({**base, **changes}).encode()

    def raw(key: str, literal: str) -> bytes:
        text = json.dumps({**base, key: 0})
        return text.replace(f'"{key}": 0', f'"{key}": {literal}').encode()

    text = json.dumps(base)
    out = [
        (NEST_20K, "too_deep"),
        (b'{"v": 1, "x": ' + NEST_20K + b"}", "too_deep"),
        (NEST_80K, "too_large"),
        (text.encode("utf-16"), "malformed_json"),
        (text.encode("utf-16-le"), "malformed_json"),
        (text.encode("utf-32"), "malformed_json"),
        (text.encode("utf-32-be"), "malformed_json"),
        (text.encode("utf-8-sig"), "malformed_json"),
        (text.encode()[: len(text) // 2], "malformed_json"),
        (raw("v", "Infinity"), "non_finite"),
        (raw("v", "NaN"), "non_finite"),
        (raw("v", "9" * 4301), "out_of_range"),
        (raw("v", "1e400"), "out_of_range"),
        (with_(v=True), "invalid"),
        (with_(device=7), "invalid"),
    ]
    if "seq" in base:
        out += [(with_(seq=True), "invalid"), (with_(seq="42"), "invalid"),
                (with_(clock_synced=0), "invalid"), (with_(seq=2**53 + 1), "invalid")]
        for when in (1_700_000_000, -1, "1.5", "2026-11-23", "2026-11-23T03:00:00",
                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
            out.append((with_(device_time=when), "invalid"))
    if "id" in base:
        no_id = dict(base)
        del no_id["id"]
        out.append((json.dumps(no_id).encode(), "missing_id"))
    if kind is DeviceTopic.CONFIG_REPORTED:
        out += [(with_(version="3"), "invalid"), (with_(version=True), "invalid"),
                (with_(version=10**30), "invalid")]
    return out

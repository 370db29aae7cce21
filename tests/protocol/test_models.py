"""Every payload round-trips and every bad one is refused with its reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import PayloadError
from protocol.categories import CATALOGUE, Category, Priority, info
from protocol.codec import MODELS, decode, decode_device_message, encode
from protocol.dispatch import Dispatch
from protocol.fleet import (
    Command,
    CommandResult,
    CommandStatus,
    DesiredConfig,
    ReportedConfig,
    Status,
    Telemetry,
    UnitSettings,
)
from protocol.ids import new_id
from protocol.reports import (
    Ack,
    AckItem,
    CallEnd,
    CallRecord,
    DeskState,
    FlaggedEntry,
    FlagList,
    Incident,
    Location,
    Source,
)
from protocol.topics import DeviceTopic

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

SAMPLES = {
    DeviceTopic.INCIDENT: Incident(
        device="box-1", seq=7, category=Category.FLOOD, source=Source.FIELD_BUTTON,
        location=Location(lat=-7.63, lon=111.52, label="Jl. Pahlawan", area="Taman"),
        description="Air setinggi lutut / knee-deep water", device_time=NOW, clock_synced=True,
    ),
    DeviceTopic.CALL: CallRecord(
        device="panel-1", seq=3, direction="incoming", number="+6281234567890",
        ring_at=NOW, answered_at=NOW, ended_at=NOW, answer_s=4.5, duration_s=62.0,
        end_reason=CallEnd.REMOTE_HANGUP,
    ),
    DeviceTopic.ACK: Ack(stored=[AckItem(id=new_id(), seq=7, case="MDN-2026-000001")]),
    DeviceTopic.STATUS: Status(device="box-1", state="online", firmware="0.1.0", profile="field"),
    DeviceTopic.TELEMETRY: Telemetry(device="box-1", seq=8, signal_dbm=-75, outbox_depth=2),
    DeviceTopic.CONFIG_DESIRED: DesiredConfig(
        version=3, settings=UnitSettings(heartbeat_s=30, button_categories={"sos": "medical"})
    ),
    DeviceTopic.CONFIG_REPORTED: ReportedConfig(
        device="box-1", version=3, settings=UnitSettings(heartbeat_s=30)
    ),
    DeviceTopic.CMD: Command(name="self_test", args={"leds": True}),
    DeviceTopic.CMD_RES: CommandResult(
        device="box-1", seq=9, command_id=new_id(), status=CommandStatus.OK, result={"ok": True}
    ),
    DeviceTopic.DESK: DeskState(device="panel-1", phase="ringing", call_id=new_id(), number="+628123",
                                flagged=True, at=NOW),
    DeviceTopic.FLAGS: FlagList(version=2, numbers=[FlaggedEntry(number="+6281234567890", until=NOW),
                                                    FlaggedEntry(number="+628999")], issued_at=NOW),
}


def test_every_topic_kind_has_a_sample():
    assert set(SAMPLES) == set(MODELS)


@pytest.mark.parametrize("kind", list(DeviceTopic))
def test_roundtrip(kind):
    msg = SAMPLES[kind]
    assert decode(MODELS[kind], encode(msg)) == msg


@pytest.mark.parametrize("kind", list(DeviceTopic))
def test_unknown_field_refused(kind):
    data = json.loads(encode(SAMPLES[kind]))
    data["surprise"] = 1
    with pytest.raises(PayloadError) as exc:
        decode(MODELS[kind], json.dumps(data))
    assert exc.value.reason == "invalid"
    assert "surprise" in str(exc.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "x" * 2001),
        ("seq", "seven"),
        ("seq", -1),
        ("category", "alien_invasion"),
        ("device", "Box 1/+"),
        ("id", "not-a-ulid"),
        ("v", 2),
    ],
)
def test_incident_rejects(field, value):
    data = json.loads(encode(SAMPLES[DeviceTopic.INCIDENT]))
    data[field] = value
    with pytest.raises(PayloadError) as exc:
        decode(Incident, json.dumps(data))
    assert exc.value.reason == "invalid"
    assert field in str(exc.value)


def test_oversize_payload_refused_before_parsing():
    with pytest.raises(PayloadError) as exc:
        decode(Incident, b"{" + b" " * (70 * 1024) + b"}")
    assert exc.value.reason == "too_large"


@pytest.mark.parametrize("payload", [b"{nope", b"\xff\xfe", b"[1,2]", b"42", b""])
def test_malformed_json(payload):
    with pytest.raises(PayloadError) as exc:
        decode(Incident, payload)
    assert exc.value.reason == "malformed_json"


def test_topic_device_must_equal_payload_device():
    payload = encode(SAMPLES[DeviceTopic.INCIDENT])  # device box-1
    parsed, msg = decode_device_message("siaga/v1/dev/box-1/incident", payload)
    assert parsed.device == "box-1" and isinstance(msg, Incident)
    with pytest.raises(PayloadError) as exc:
        decode_device_message("siaga/v1/dev/box-2/incident", payload)
    assert exc.value.reason == "device_mismatch"


def test_missed_call_cannot_have_answer_time():
    with pytest.raises(ValueError, match="answer_s"):
        CallRecord(device="p-1", seq=1, direction="incoming", answer_s=3,
                   end_reason=CallEnd.MISSED)


def test_catalogue_covers_every_category_and_prank_test_unrouted():
    assert set(CATALOGUE) == set(Category)
    for code in ("prank", "test"):
        assert not info(code).routed
        assert info(code).priority is Priority.NONE
    for c in CATALOGUE.values():
        if c.routed:
            assert c.default_opds and c.sla_ack_min and c.sla_resolve_min
            assert c.label_id and c.label_en


def test_dispatch_roundtrip():
    d = Dispatch(id=new_id(), case="MDN-1", incident_id=new_id(), opd="damkar",
                 category="fire", priority=1, source="sms", received_at=NOW)
    assert decode(Dispatch, encode(d)) == d


def test_ids_sort_by_creation():
    ids = [new_id() for _ in range(50)]
    assert ids == sorted(ids) or len(set(ids)) == 50  # same-ms ids are random but unique
    assert len(set(ids)) == 50


@given(
    seq=st.integers(min_value=0, max_value=2**53),
    desc=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=2000),  # NUL is refused
    cat=st.sampled_from(list(Category)),
    lat=st.floats(min_value=-90, max_value=90, allow_nan=False),
)
def test_incident_roundtrip_property(seq, desc, cat, lat):
    inc = Incident(device="box-9", seq=seq, category=cat, source=Source.SMS,
                   description=desc, location=Location(lat=lat))
    assert decode(Incident, encode(inc)) == inc

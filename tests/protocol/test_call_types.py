"""Call types and the desk's operator: contract revision 2 grows v1 compatibly."""

from __future__ import annotations

import json

import pytest

from protocol import CONTRACT_REVISION, PayloadError
from protocol.codec import decode_device_message
from protocol.fleet import UnitSettings
from protocol.ids import new_id
from protocol.reports import JUNK_CALL_TYPES, CallType

TOPIC_CALL = "siaga/v1/dev/panel-1/call"
TOPIC_INC = "siaga/v1/dev/panel-1/incident"


def _call(**extra):
    body = {"v": 1, "id": new_id(), "device": "panel-1", "seq": 3, "direction": "incoming",
            "number": "+6281234567890", "answer_s": 4.0, "duration_s": 20.0,
            "end_reason": "remote_hangup", **extra}
    return json.dumps(body).encode()


def test_a_revision_1_call_record_without_call_type_still_validates():
    _, rec = decode_device_message(TOPIC_CALL, _call())
    assert rec.call_type is None and rec.operator is None
    assert CONTRACT_REVISION >= 2


def test_call_record_carries_call_type_and_operator():
    _, rec = decode_device_message(TOPIC_CALL, _call(call_type="ghost", operator="sari"))
    assert rec.call_type is CallType.GHOST and rec.operator == "sari"


def test_unknown_call_type_is_refused_by_name():
    with pytest.raises(PayloadError) as exc:
        decode_device_message(TOPIC_CALL, _call(call_type="spam"))
    assert exc.value.reason == "invalid" and "call_type" in str(exc.value)


def test_incident_carries_call_type():
    body = {"v": 1, "id": new_id(), "device": "panel-1", "seq": 4, "category": "prank",
            "source": "panel_call", "call_type": "prank"}
    _, inc = decode_device_message(TOPIC_INC, json.dumps(body).encode())
    assert inc.call_type is CallType.PRANK


def test_junk_types_are_exactly_those_that_never_reach_an_opd():
    assert {t.value for t in JUNK_CALL_TYPES} == {"ghost", "prank", "test", "misdial"}


def test_operator_sign_in_setting():
    assert UnitSettings(operator="sari.w").operator == "sari.w"
    assert UnitSettings(operator="").operator == ""  # signed out
    with pytest.raises(ValueError):
        UnitSettings(operator="sari w; drop")


def test_a_full_flag_list_fits_one_payload():
    from datetime import UTC, datetime

    from protocol.base import MAX_PAYLOAD_BYTES
    from protocol.codec import decode, encode
    from protocol.reports import MAX_FLAGS, FlaggedEntry, FlagList

    until = datetime(2026, 11, 23, 3, 0, 0, 123456, tzinfo=UTC)
    full = FlagList(version=9, numbers=[FlaggedEntry(number="+" + "9" * 20, until=until)] * MAX_FLAGS,
                    issued_at=until)
    raw = encode(full)
    assert len(raw) <= MAX_PAYLOAD_BYTES
    assert decode(FlagList, raw).numbers[0].until == until
    with pytest.raises(PayloadError):
        decode(FlagList, encode(FlagList(version=9, numbers=full.numbers)).replace(
            b'"numbers":[', b'"numbers":[' + b'{"number":"+1"},' * 1))  # 701 entries

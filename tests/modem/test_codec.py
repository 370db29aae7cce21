"""SMS encoding and status parsing, against published vectors and the simulator's own decoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.modem import info, sms
from firmware.sim.pdu import PduError, decode_submit


def test_submit_pdu_matches_published_vector():
    # the classic "hellohello" SMS-SUBMIT (GSM 03.40 tutorials, dreamfabric)
    length, pdu = sms.submit_pdu("+46708251358", "hellohello", "gsm7", validity=0xAA)
    assert pdu == "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert length == 23


def test_decoder_reads_published_vector():
    sub = decode_submit("0011000B916407281553F80000AA0AE8329BFD4697D9EC37")
    assert (sub.number, sub.text, sub.tpdu_length) == ("+46708251358", "hellohello", 23)


def test_decoder_rejects_garbage():
    for bad in ("zz", "00", "0001", "0041000B916407281553F80000"):
        with pytest.raises(PduError):
            decode_submit(bad)


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=700).filter(lambda t: len(sms.plan(t).parts) <= sms.MAX_PARTS),
       st.integers(0, 255))
def test_parts_decode_back_to_the_text(text, ref):
    p = sms.plan(text)
    if p.mode != "pdu":
        return
    pdus = sms.submit_pdus("+628123", text, p.alphabet, ref)
    got = []
    for length, hexdata in pdus:
        sub = decode_submit(hexdata)
        assert sub.tpdu_length == length
        assert sub.number == "+628123"
        got.append(sub.text)
        assert len(hexdata) // 2 - 1 <= 140 + 24  # fits one SMS
    assert "".join(got) == text


def test_plan_choices():
    assert sms.plan("Halo").mode == "text-ira"
    assert sms.plan("a" * 160).parts == ["a" * 160]
    assert len(sms.plan("a" * 161).parts) == 2
    assert sms.plan("Kebakaran — cepat").mode == "text-ucs2"
    assert sms.plan("é" * 10).mode == "pdu"  # GSM but not ASCII: 7-bit PDU
    assert len(sms.plan("—" * 71).parts) == 2


def test_number_decoding():
    assert sms.decode_number("002B0036003200380031") == "+6281"
    assert sms.decode_number("+6281") == "+6281"
    assert sms.decode_number("ABCDEF01") == "ABCDEF01"  # hex but not a number: left alone


def test_csq_to_dbm():
    assert info.csq_to_dbm("0,0") == -113
    assert info.csq_to_dbm("31,0") == -51
    assert info.csq_to_dbm("20,99") == -73
    assert info.csq_to_dbm("99,99") is None
    assert info.csq_to_dbm("junk") is None


def test_registration_parsing():
    assert info.creg_state("1", query=False) == "home"
    assert info.creg_state("5,\"00C3\",\"1A2B\"", query=False) == "roaming"
    assert info.creg_state("0,2", query=True) == "searching"
    assert info.creg_state("2,3,\"00C3\",\"1A2B\"", query=True) == "denied"
    assert info.creg_is_query_answer("1,1") and not info.creg_is_query_answer("1")
    assert not info.creg_is_query_answer('1,"00C3","1A2B",7')
    assert info.creg_state("x", query=False) == "unknown"


def test_clock_parsing():
    wib = timezone(timedelta(hours=7))
    assert info.parse_clock('"26/11/23,21:20:05+28"') == datetime(2026, 11, 23, 21, 20, 5, tzinfo=wib)
    assert info.parse_clock('"04/01/01,00:00:00+00"') is None  # never set by the network
    assert info.parse_clock("nonsense") is None
    got = info.parse_psuttz('2026,11,23,14,20,5,"+28",0')
    assert got == datetime(2026, 11, 23, 14, 20, 5, tzinfo=UTC)
    assert got.utcoffset() == timedelta(hours=7)
    assert info.parse_psuttz("2026,13,40,1,1,1") is None


def test_voice_call_end_duration():
    assert info.parse_duration(" 000125") == 85
    assert info.parse_duration("0:01:05") == 65
    assert info.parse_duration("12") == 12
    assert info.parse_duration("?") is None


def test_registration_values_are_the_wire_contract():
    from protocol.fleet import Registration

    assert set(info.REG_STATES.values()) <= {r.value for r in Registration}

"""The driver's SMS-DELIVER decoder: published vectors, the spec's corner cases,
and hypothesis — truncated or garbage input only ever raises ``PduError``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smspdudecoder.easy import read_incoming_sms

from firmware.modem import ModemError, pdu, textmode
from tests.modem import sms_builder as b

#: Published SMS-DELIVER from Lars Pettersson's "SMS and the PDU format" (dreamfabric),
#: reproduced in many libraries' tests: "hellohello" from 27838890001, 99/03/29 15:16:59 +2h.
DREAMFABRIC = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"


def test_published_deliver_vector():
    got = pdu.decode(DREAMFABRIC)
    assert (got.kind, got.sender, got.text, got.alphabet) == ("deliver", "27838890001", "hellohello", "gsm7")
    assert got.sent_at == datetime(1999, 3, 29, 15, 16, 59, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(("field", "name"), [
    # smspdudecoder's documented examples (fields.Address docstring)
    ("0BD0CDE6DB5DCE03", "MMoney"),
    ("14D0C4F23C7D760390EF7619", "Design@Home"),
    ("0B915155214365F7", "+15551234567"),
])
def test_published_address_vectors(field, name):
    assert pdu.decode_address(bytes.fromhex(field), 0)[0] == name


@pytest.mark.parametrize(("field", "utc"), [
    # smspdudecoder's documented examples (elements.Date docstring): +8 h and -7 h
    ("70402132522423", datetime(2007, 4, 12, 15, 25, 42, tzinfo=UTC)),
    ("3130523210658A", datetime(2013, 3, 26, 6, 1, 56, tzinfo=UTC)),
])
def test_published_time_stamp_vectors(field, utc):
    assert pdu.decode_scts(bytes.fromhex(field)) == utc


def test_quarter_hour_zones_both_signs():
    for offset in (timedelta(hours=5, minutes=45), -timedelta(hours=9, minutes=30), timedelta(0)):
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(offset))
        assert pdu.decode_scts(b.stamp(when)).utcoffset() == offset


def test_status_report_is_recognised():
    # SMS-STATUS-REPORT: MTI 10, MR 9, recipient, two stamps, status 0
    when = b.stamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    tpdu = bytes([0x06, 0x09]) + b.originator("+628444") + when + when + b"\x00"
    assert pdu.decode(b.SMSC_FIELD + tpdu.hex()).kind == "status_report"


def test_unknown_escape_shows_the_basic_character():
    assert pdu.gsm7_to_text([0x1B, 0x41, 0x42]) == "AB"  # TS 23.038 6.2.1.1


def test_eight_bit_that_is_not_utf8_is_kept_as_latin1():
    built = b.deliver("+628", "caf\xe9", datetime(2026, 1, 1, tzinfo=UTC), coding="8bit")
    got = pdu.decode(built.hex_with_smsc)
    assert (got.text, got.data) == ("café", b"caf\xe9")
    assert read_incoming_sms(built.hex_with_smsc)["content"] == b"caf\xe9"


def test_seven_octet_boundary_padding_is_not_an_at_sign():
    """Text-mode hex: a 6-octet header (7 septets with fill) and 8 characters are
    15 septets in 14 octets; the 7 spare bits are padding, not a final '@'."""
    built = b.deliver("+628", "abcdefgh", datetime(2026, 1, 1, tzinfo=UTC), concat=(1, 2, 1))
    assert len(built.ud) == 14
    head = ["+628", "", "26/01/01,00:00:00+00", "145", "68", "0", "0", "+62816124", "145"]
    for length in (str(len(built.ud)), "15", None):  # octets, septets, or no length at all
        fields = [*head, length] if length else head
        got = textmode.decode(fields, built.ud.hex().upper())
        assert (got.text, got.concat) == ("abcdefgh", (1, 2, 1)), length


def _valid_pdus() -> list[str]:
    when = datetime(2026, 11, 23, 21, 5, tzinfo=timezone(-timedelta(hours=3)))
    parts = b.long_message("TELKOMSEL", ["a€[b]" * 30, "tail"], when)
    return [DREAMFABRIC] + [p.hex_with_smsc for p in parts] + [
        b.deliver("+62811", "Kebakaran 🚒", when, coding="ucs2").hex_with_smsc,
        b.deliver("+62811", "Hello world!", when, coding="8bit").hex_with_smsc]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_valid_pdus()), st.data())
def test_truncated_or_corrupted_pdus_only_raise_pdu_error(hexdata, data):
    raw = bytearray.fromhex(hexdata)
    cut = data.draw(st.integers(0, len(raw)))
    raw = raw[:cut]
    for _ in range(data.draw(st.integers(0, 3))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        got = pdu.decode(raw.hex())
    except pdu.PduError as exc:
        assert isinstance(exc, ModemError) and isinstance(exc, ValueError)
    else:
        assert isinstance(got.text, str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_only_raises_pdu_error(text):
    try:
        got = pdu.decode(text)
    except pdu.PduError:
        return
    assert got.kind in ("deliver", "status_report")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=11), st.text(max_size=80))
def test_text_mode_fields_and_body_only_raise_pdu_error(fields, body):
    try:
        got = textmode.decode(fields, body)
    except pdu.PduError:
        return
    assert isinstance(got.text, str) and isinstance(got.sender, str)

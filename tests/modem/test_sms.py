"""SMS through real pty I/O: sending (text mode and multipart PDU) and receiving."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from firmware.modem import ModemCommandError, ModemStateError
from firmware.modem.events import SmsReceived
from firmware.sim import ModemSimulator
from firmware.sim.pdu import decode_submit
from tests.modem.conftest import FAST, modem_for, until, wait_for

CENTRE = "+6281100112112"

#: 300+ characters of Bahasa Indonesia with non-GSM characters (curly quotes, em dash)
LONG_ID = (
    "Laporan darurat dari kotak panggil Jalan Pahlawan No. 12: “banjir setinggi lutut” — "
    "air masuk ke rumah warga sejak pukul 03.00 WIB. Tiga orang lansia perlu dievakuasi, "
    "satu anak demam tinggi. Jalan utama tidak bisa dilalui sepeda motor; mohon kirim perahu "
    "karet dan ambulans dari PSC 119. Petugas BPBD diminta segera koordinasi dengan Dinas PU. "
    "Terima kasih — Siaga 112."
)


def test_long_bahasa_sms_arrives_whole(pair):
    sim, m = pair
    assert len(LONG_ID) >= 300
    parts = m.send_sms(CENTRE, LONG_ID)
    expected = -(-len(LONG_ID) // 67)  # 67 UCS2 characters a part
    assert parts == expected >= 5
    assert sim.sent_sms == [(CENTRE, LONG_ID)]
    # really concatenated UCS2 parts with one reference, in order
    raw = sim.sent_parts
    assert [p["concat"][2] for p in raw] == list(range(1, expected + 1))
    assert all(decode_submit(p["raw"]).dcs == 8 for p in raw)
    assert len({p["concat"][0] for p in raw}) == 1
    # and the modem is back in text mode / IRA afterwards
    assert sim.s["cmgf"] == 1 and sim.s["cscs"] == "IRA" and sim.s["csmp"][3] == 0


def test_short_ascii_sms_in_text_mode(modem, sim):
    assert modem.send_sms(CENTRE, "TEST 112 box-07 OK") == 1
    assert sim.sent_sms == [(CENTRE, "TEST 112 box-07 OK")]
    assert any(c.startswith('AT+CMGS="+62') for c in sim.commands)


def test_short_non_ascii_sms_in_ucs2_text_mode(modem, sim):
    text = "Kebakaran di Pasar Baru — segera!"
    assert modem.send_sms(CENTRE, text) == 1
    assert sim.sent_sms == [(CENTRE, text)]
    assert 'AT+CSCS="UCS2"' in sim.commands
    assert sim.s["cscs"] == "IRA"


def test_long_gsm7_sms_uses_7bit_parts(modem, sim):
    text = ("Uji coba sistem 112 kota. " * 14).strip()
    assert len(text) > 160
    assert modem.send_sms(CENTRE, text) == 3
    assert sim.sent_sms == [(CENTRE, text)]
    assert [decode_submit(p["raw"]).dcs for p in sim.sent_parts] == [0, 0, 0]


def test_emoji_is_not_split_across_parts(modem, sim):
    text = "🚑" * 40 + "x" * 30  # surrogate pairs: 110 UTF-16 units
    modem.send_sms(CENTRE, text)
    assert sim.sent_sms == [(CENTRE, text)]


def test_received_sms_is_one_event_and_deleted(modem, sim):
    sent = datetime(2026, 11, 23, 21, 5, 30, tzinfo=timezone(timedelta(hours=7)))
    slots = sim.receive_sms("+6285712345678", "Pohon tumbang di Jl. Sudirman", sent_at=sent)
    ev = wait_for(modem.events, SmsReceived)
    assert ev.number == "+6285712345678"
    assert ev.text == "Pohon tumbang di Jl. Sudirman"
    assert ev.sent_at == sent
    assert until(lambda: not sim.storage), f"slot {slots} not deleted"


def test_received_long_sms_is_reassembled_into_one_event(modem, sim):
    slots = sim.receive_sms("+6285712345678", LONG_ID)
    assert len(slots) == -(-len(LONG_ID) // 67)
    ev = wait_for(modem.events, SmsReceived)
    assert ev.text == LONG_ID
    assert until(lambda: not sim.storage)
    assert modem._inbox.counters["sms_received"] == 1


def test_received_sms_that_looks_like_a_result_code(modem, sim):
    """A body of ``OK`` or ``RING`` must not end the read or fake a call."""
    sim.receive_sms("+628111", "OK")
    assert wait_for(modem.events, SmsReceived).text == "OK"
    sim.receive_sms("+628111", "RING")
    assert wait_for(modem.events, SmsReceived).text == "RING"
    assert modem.call_state == "idle"


@pytest.mark.parametrize("text", ["Banjir di RT 05", "Gempa — semua keluar rumah"])
def test_direct_delivery_cmt(text):
    """With ``AT+CNMI=2,2`` the modem pushes the SMS as ``+CMT`` (two lines)."""
    sim = ModemSimulator("sim800", **FAST)
    sim.start_pty()
    m = modem_for(sim.url)
    m.start()
    try:
        m.at("AT+CNMI=2,2,0,0,0")
        sim.receive_sms("+628222", text)
        ev = wait_for(m.events, SmsReceived)
        assert (ev.number, ev.text) == ("+628222", text)
    finally:
        m.close()
        sim.stop()


def test_sms_without_network_is_a_clear_error(modem, sim):
    sim.set_registered(False)
    with pytest.raises(ModemCommandError) as err:
        modem.send_sms(CENTRE, "halo")
    assert "CMS ERROR" in err.value.result
    assert sim.s["cmgf"] == 1


def test_bad_sms_requests_are_refused(modem, sim):
    with pytest.raises(ModemStateError):
        modem.send_sms("12ab", "x")
    with pytest.raises(ModemStateError):
        modem.send_sms(CENTRE, "")
    with pytest.raises(ModemStateError):
        modem.send_sms(CENTRE, "é€" * 400)  # more than 10 parts
    assert sim.sent_sms == []


def test_messages_stored_before_start_are_swept():
    """SMS that arrived while the agent was down never sent us +CMTI; start reads them."""
    sim = ModemSimulator("sim800", **FAST)
    sim.start_pty()
    sim.receive_sms("+628333", "Pesan lama 1")
    sim.receive_sms("+628333", "Pesan lama — 2")
    m = modem_for(sim.url)
    m.start()
    try:
        got = {wait_for(m.events, SmsReceived).text for _ in range(2)}
        assert got == {"Pesan lama 1", "Pesan lama — 2"}
        assert until(lambda: not sim.storage)
    finally:
        m.close()
        sim.stop()

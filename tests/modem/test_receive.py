"""Receiving SMS as real networks deliver them, through the driver on a real pty.

Every message is built here from the specs (``sms_builder``), cross-checked
with the independent ``smspdudecoder``, then delivered by the simulator the
way a real modem prints it: stored and read in PDU mode (``+CMTI``), pushed
as ``+CMT`` in text mode (hex user data) and in PDU mode, and stored on a
modem that refuses PDU mode (text-mode read).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from smspdudecoder.easy import read_incoming_sms

from firmware.modem.events import SmsReceived
from firmware.sim import ModemSimulator
from tests.modem import sms_builder as b
from tests.modem.conftest import FAST, modem_for, running, sweep_done, until, wait_for

CONCAT_S = 4.0

WIB = timezone(timedelta(hours=7))
MINUS_0330 = timezone(-timedelta(hours=3, minutes=30))  # quarter hours with the sign bit
WHEN = datetime(2026, 11, 23, 21, 5, 30, tzinfo=WIB)

#: 3 parts of GSM 7-bit with extension characters (€ [ ] counted as two septets each)
GSM_PARTS = [
    "Laporan [RT 05]: banjir setinggi lutut sejak pukul 03.00 WIB di Jalan Pahlawan. "
    "Tiga lansia perlu dievakuasi, satu anak demam tinggi; mohon perahu!",
    "Biaya perahu karet ditaksir 250€ per hari, {dana darurat} tersedia di kelurahan. "
    "Jalan utama tertutup air, sepeda motor tidak bisa lewat ~ kirim truk.",
    " Terima kasih | Siaga 112 ^ selesai.",
]
UCS2_TEXT = "Kebakaran di Pasar Baru “blok C” — segera kirim damkar 🚒"
BIT8_TEXT = "Hello world!"


def cross_check(built: b.Built, coding: str) -> None:
    """The independent decoder reads the same text, sender and instant from our PDU."""
    got = read_incoming_sms(built.hex_with_smsc)
    if coding == "8bit":
        assert got["content"] == built.text.encode("latin-1")
    else:
        assert got["content"] == built.text


MODES = ["stored-pdu", "cmt-text", "cmt-pdu", "stored-text"]


@pytest.fixture(params=MODES)
def rx(request):
    """(sim, modem) set up for one way of delivery."""
    mode = request.param
    sim = ModemSimulator("sim800", pdu_mode=mode != "stored-text", **FAST)
    sim.start_pty()
    # long enough that a loaded machine reads all parts in it (stored-text mode polls storage)
    m = modem_for(sim.url, concat_timeout=CONCAT_S)
    m.start()
    assert until(lambda: sweep_done(sim) or mode == "stored-text")
    if mode.startswith("cmt"):
        m.at("AT+CNMI=2,2,0,0,0")
        if mode == "cmt-pdu":
            m.at("AT+CMGF=0")
    yield sim, m, mode
    m.close()
    sim.stop()


def _deliver(sim: ModemSimulator, parts: list[b.Built]) -> None:
    for p in parts:
        sim.deliver_pdu(p.tpdu)


def test_three_part_gsm7_with_extension_characters(rx):
    sim, m, mode = rx
    parts = b.long_message("+6285712345678", GSM_PARTS, WHEN)
    for p in parts:
        cross_check(p, "gsm7")
    assert len(b.septets(GSM_PARTS[0])) <= 153
    _deliver(sim, [parts[2], parts[0], parts[0], parts[1]])  # out of order, one twice
    ev = wait_for(m.events, SmsReceived)
    assert ev.text == "".join(GSM_PARTS)
    assert (ev.number, ev.sent_at, ev.parts, ev.complete, ev.encoding) == (
        "+6285712345678", WHEN, 3, True, "gsm7")
    assert ev.sent_at.utcoffset() == timedelta(hours=7)
    assert until(lambda: m._inbox.counters["sms_duplicate_parts"] == 1)
    if mode.startswith("stored"):
        assert until(lambda: not sim.storage)


def test_sixteen_bit_reference(rx):
    sim, m, _ = rx
    parts = b.long_message("+6281100112112", ["Bagian satu; ", "bagian dua."], WHEN, ref=0xBEEF,
                           ref16=True)
    assert read_incoming_sms(parts[0].hex_with_smsc)["partial"]["reference"] == "48879-2"
    _deliver(sim, parts)
    assert wait_for(m.events, SmsReceived).text == "Bagian satu; bagian dua."


@pytest.mark.parametrize(("coding", "text"), [("8bit", BIT8_TEXT), ("ucs2", UCS2_TEXT)])
def test_eight_bit_and_ucs2_messages(rx, coding, text):
    sim, m, _ = rx
    built = b.deliver("+628111", text, WHEN, coding=coding)
    cross_check(built, coding)
    sim.deliver_pdu(built.tpdu)
    ev = wait_for(m.events, SmsReceived)
    assert (ev.text, ev.encoding) == (text, coding)


def test_alphanumeric_sender_with_negative_time_zone(rx):
    sim, m, _ = rx
    when = datetime(2026, 11, 23, 10, 15, 0, tzinfo=MINUS_0330)
    built = b.deliver("TELKOMSEL", "Sisa pulsa Anda Rp 5.000 [info]", when)
    got = read_incoming_sms(built.hex_with_smsc)
    assert got["sender"] == "TELKOMSEL" and got["date"] == when.astimezone(UTC)
    sim.deliver_pdu(built.tpdu)
    ev = wait_for(m.events, SmsReceived)
    assert (ev.number, ev.text) == ("TELKOMSEL", "Sisa pulsa Anda Rp 5.000 [info]")
    assert ev.sent_at == when and ev.sent_at.utcoffset() == -timedelta(hours=3, minutes=30)


def test_missing_part_is_delivered_after_the_timeout_marked_incomplete(rx):
    sim, m, _ = rx
    parts = b.long_message("+628222", ["satu ", "dua ", "tiga"], WHEN, ref=7)
    _deliver(sim, [parts[0], parts[2]])
    ev = wait_for(m.events, SmsReceived, timeout=CONCAT_S + 10)  # after concat_timeout
    assert (ev.text, ev.parts, ev.missing, ev.complete) == ("satu tiga", 3, (2,), False)
    assert m._inbox.counters["sms_incomplete"] == 1


def test_simulator_delivers_long_gsm7_8bit_and_alphanumeric_like_a_network(rx):
    """The simulator's own builder: long GSM 7-bit in 7-bit parts (not UCS2)."""
    sim, m, _ = rx
    text = "".join(GSM_PARTS)
    sim.receive_sms("+628333", text, sent_at=WHEN)
    ev = wait_for(m.events, SmsReceived)
    assert (ev.text, ev.parts, ev.encoding) == (text, 3, "gsm7")
    sim.receive_sms("+628333", BIT8_TEXT, alphabet="8bit")
    assert wait_for(m.events, SmsReceived).text == BIT8_TEXT
    sim.receive_sms("INFO112", "Uji sirene pukul 10.00", ref_bits=16)
    ev = wait_for(m.events, SmsReceived)
    assert (ev.number, ev.text) == ("INFO112", "Uji sirene pukul 10.00")


@pytest.mark.parametrize("pdu_mode", [True, False])
def test_stored_status_report_neither_stalls_nor_skips(pdu_mode):
    """A delivery report on the SIM between two messages: both messages come out,
    no command times out, the report is counted and deleted."""
    sim = ModemSimulator("sim800", pdu_mode=pdu_mode, **FAST)
    sim.deliver_pdu(b.deliver("+628444", "Pesan A", WHEN).tpdu)
    sim.store_status_report("+628444", mr=9)
    sim.deliver_pdu(b.deliver("+628444", "Pesan B", WHEN).tpdu)
    with running(sim) as m:
        got = {wait_for(m.events, SmsReceived).text for _ in range(2)}
        assert got == {"Pesan A", "Pesan B"}
        assert until(lambda: not sim.storage)
        assert m._inbox.counters["sms_status_reports"] == 1
        assert m._channel.counters["timeouts"] == 0
        sim.store_status_report("+628444", mr=10, notify=True)  # +CDSI: read, counted, deleted
        assert until(lambda: m._inbox.counters["sms_status_reports"] == 2 and not sim.storage)


def test_parts_joined_across_cmti_and_cmt():
    """One part stored (+CMTI, read in PDU mode), the others pushed as text-mode +CMT."""
    sim = ModemSimulator("sim800", **FAST)
    with running(sim) as m:
        assert until(lambda: sweep_done(sim))
        parts = b.long_message("+628555", GSM_PARTS, WHEN, ref=200)
        sim.deliver_pdu(parts[1].tpdu)
        assert until(lambda: not sim.storage)  # read and deleted, waiting for its siblings
        m.at("AT+CNMI=2,2,0,0,0")
        _deliver(sim, [parts[2], parts[0]])
        assert wait_for(m.events, SmsReceived).text == "".join(GSM_PARTS)


@pytest.mark.parametrize("rx", ["stored-pdu", "cmt-pdu"], indirect=True)
def test_undecodable_pdu_is_counted_and_the_next_message_still_comes(rx):
    """(In text mode the modem itself decodes the PDU: nothing undecodable reaches us.)"""
    sim, m, _ = rx
    sim.deliver_pdu(bytes.fromhex("440B91"))  # SMS-DELIVER cut inside the sender address
    sim.deliver_pdu(b.deliver("+628666", "Masih jalan", WHEN).tpdu)
    assert wait_for(m.events, SmsReceived).text == "Masih jalan"
    assert m._inbox.counters["sms_undecodable"] == 1


def test_a_read_that_times_out_is_retried_by_a_sweep():
    """The message stays on the SIM when ``AT+CMGR`` gets no answer: a sweep finds it."""
    sim = ModemSimulator("sim800", **FAST)
    with running(sim, command_timeout=0.5) as m:
        assert until(lambda: sweep_done(sim))
        sim.ignore_commands = {"AT+CMGR"}
        sim.deliver_pdu(b.deliver("+628777", "Kirim ambulans", WHEN).tpdu)
        assert wait_for(m.events, SmsReceived).text == "Kirim ambulans"
        assert m.counters["sms_read_errors"] == 1 and sim.commands.count("AT+CMGL=4") == 2
        assert until(lambda: not sim.storage)

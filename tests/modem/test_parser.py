"""The line parser and the reader's line handling, including on arbitrary byte streams."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.modem import Modem
from firmware.modem.channel import AtChannel
from firmware.modem.parser import PROMPT, Final, LineSplitter, final_code, is_urc, split_fields

URCS = [
    "RING",
    '+CLIP: "+6281234567890",145,"",0,"",0',
    '+CLCC: 1,1,4,0,0,"+6281234567890",145',
    '+CMTI: "SM",3',
    "+CREG: 1",
    "+CGREG: 5",
    "+CPIN: READY",
    "RDY",
    "Call Ready",
    "SMS Ready",
    "+CFUN: 1",
    "NO CARRIER",
    "BUSY",
    "VOICE CALL: BEGIN",
    "VOICE CALL: END: 000010",
    "UNDER-VOLTAGE WARNNING",
    "UNDER-VOLTAGE POWER DOWN",
    '*PSUTTZ: 2026,11,23,14,20,5,"+28",0',
    "+CTZV: +28",
    "MISSED_CALL: 10:12AM +6281234567890",
]


def test_splitter_handles_every_line_ending():
    s = LineSplitter()
    assert s.feed(b"\r\nOK\r\n") == ["OK"]
    assert s.feed(b"RING\rRING\n\n+CSQ: 1") == ["RING", "RING"]
    assert s.feed(b"5,0\r\n") == ["+CSQ: 15,0"]


def test_splitter_reports_the_sms_prompt():
    s = LineSplitter()
    assert s.feed(b"\r\n> ") == [PROMPT]
    assert s.feed(b"\r\n>") == []
    assert s.feed(b" ") == [PROMPT]


def test_splitter_counts_garbage_instead_of_failing():
    s = LineSplitter(max_line=64)
    assert s.feed(b"\xff\xfe\x00OK\x07\r\n") == ["OK"]
    assert s.garbage >= 4
    assert s.feed(b"x" * 100) == []
    assert s.garbage >= 100
    assert s.feed(b"\r\nRING\r\n") == ["RING"]


def test_final_codes():
    assert final_code("OK") is Final.OK
    assert final_code("+CME ERROR: 10") is Final.CME
    assert final_code("+CMS ERROR: 331") is Final.CMS
    assert final_code("NO DIALTONE") is Final.NO_DIALTONE
    assert final_code("CONNECT 115200") is Final.CONNECT
    assert final_code("OKAY") is None
    assert all(is_urc(u) for u in URCS)
    assert not is_urc("+CSQ: 20,0")


def test_split_fields_keeps_quoted_commas():
    assert split_fields('"REC UNREAD","+62,81","","26/11/23,14:20:00+28"') == [
        "REC UNREAD", "+62,81", "", "26/11/23,14:20:00+28"]


def _channel(got: list):
    return AtChannel("loop://", baudrate=115200, on_urc=lambda line, body: got.append((line, body)))


def test_cmt_urc_takes_its_body_line():
    got: list = []
    ch = _channel(got)
    ch.feed(b'\r\n+CMT: "+628111","","26/11/23,14:20:00+28"\r\nOK\r\n\r\nRING\r\n')
    assert got == [('+CMT: "+628111","","26/11/23,14:20:00+28"', "OK"), ("RING", None)]


def test_stray_final_without_command_is_counted():
    got: list = []
    ch = _channel(got)
    ch.feed(b"\r\nOK\r\n\r\nERROR\r\n")
    assert got == []
    assert ch.counters["stray_finals"] == 2


garbage = st.binary(max_size=200).filter(lambda b: b"+CMT" not in b and b"+CBM" not in b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=garbage, after=garbage, urc=st.sampled_from(URCS), cuts=st.lists(st.integers(0, 600)))
def test_a_whole_urc_survives_any_surrounding_bytes(before, after, urc, cuts):
    """Never raises, and a well-formed URC that arrives whole comes out, however
    the stream is chunked and whatever noise surrounds it."""
    got: list = []
    ch = _channel(got)
    stream = before + b"\r\n" + urc.encode() + b"\r\n" + after
    points = sorted({c % (len(stream) + 1) for c in cuts})
    prev = 0
    for p in [*points, len(stream)]:
        ch.feed(stream[prev:p])
        prev = p
    assert urc in [line for line, _ in got]
    assert ch.counters["handler_errors"] == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=80), st.sampled_from([u.encode() + b"\r\n" for u in URCS]),
                          st.sampled_from([b"\r\n", b"\r", b"> ", b"+CMT: x\r\n", b"+CLCC: 1,x\r\n",
                                           b"+CREG: \r\n", b"VOICE CALL: END: zz\r\n"])),
                max_size=30))
def test_the_driver_reader_never_raises(chunks):
    """The real driver's URC handling on any byte soup: no exception escapes
    and none is even caught (handler_errors stays 0)."""
    m = Modem("loop://", watchdog_interval=60)
    for c in chunks:
        m._channel.feed(c)
    assert m._channel.counters["handler_errors"] == 0

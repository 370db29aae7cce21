"""Decoding received SMS PDUs: SMS-DELIVER and SMS-STATUS-REPORT (3GPP TS 23.040).

Why our own decoder: in text mode a modem prints what it cannot show as
characters (a concatenation header, 8-bit data, UCS2) as hex of the user
data, and alphanumeric senders come out in whatever character set is set.
Reading in PDU mode (``AT+CMGF=0``) gives the exact octets the network sent,
so one decoder covers every maker. Anything malformed raises
:class:`PduError`, never an ``IndexError`` or ``UnicodeDecodeError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from firmware.modem.errors import ModemError
from firmware.modem.sms import GSM7_BASIC, parse_udh

#: GSM 03.38 extension table: the character after the 0x1B escape
GSM7_EXT = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[",
            0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}


class PduError(ModemError, ValueError):
    """A received PDU (or text-mode hex) is malformed or truncated."""


@dataclass(frozen=True, slots=True)
class Received:
    """One received TPDU. ``kind`` is ``deliver`` or ``status_report``."""

    kind: str
    sender: str = ""
    text: str = ""
    sent_at: datetime | None = None
    alphabet: str = "gsm7"  # gsm7 | 8bit | ucs2
    concat: tuple[int, int, int] | None = None  # (reference, total, sequence)
    data: bytes = b""  # the user data after the header (8-bit messages: the raw octets)


def gsm7_to_text(septets: list[int]) -> str:
    """Septets to text, with escape sequences (an unknown escape shows the basic character)."""
    out: list[str] = []
    esc = False
    for s in septets:
        if esc:
            out.append(GSM7_EXT.get(s, GSM7_BASIC[s] if s != 0x1B else " "))
            esc = False
        elif s == 0x1B:
            esc = True
        else:
            out.append(GSM7_BASIC[s])
    return "".join(out)


def unpack_septets(data: bytes, count: int, skip_bits: int = 0) -> list[int]:
    """``count`` 7-bit values packed LSB first, after ``skip_bits`` header/fill bits."""
    if skip_bits + 7 * count > 8 * len(data):
        raise PduError(f"{count} septets do not fit in {len(data)} octets")
    bits = int.from_bytes(data, "little")
    return [(bits >> (skip_bits + 7 * i)) & 0x7F for i in range(count)]


def dcs_alphabet(dcs: int) -> str:
    """TS 23.038 section 4: the character set a data coding scheme names."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (0x4-0x7: marked for automatic deletion)
        if dcs & 0x20:
            raise PduError(f"compressed user data (DCS {dcs:#04x}) is not supported")
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0x03]
    if group == 0xE:  # message waiting indication, UCS2
        return "ucs2"
    if group == 0xF:  # data coding / message class
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"  # 0xC, 0xD (message waiting, GSM 7) and reserved groups


def decode_8bit(data: bytes) -> str:
    """8-bit data has no character set; phones put ASCII or UTF-8 there."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def user_text(ud: bytes, udl: int, alphabet: str, udhi: bool) -> tuple[str, bytes, tuple | None]:
    """``(text, data after header, concat)`` from user data as TS 23.040 9.2.3.24 lays it out.

    ``udl`` counts septets for GSM 7-bit (header included), octets otherwise.
    """
    concat = None
    header_octets = 0
    if udhi:
        if not ud or ud[0] + 1 > len(ud):
            raise PduError("user data header longer than the user data")
        header_octets = ud[0] + 1
        concat, _ = parse_udh(ud[:header_octets])
    if alphabet == "gsm7":
        skip = (header_octets * 8 + 6) // 7  # header plus fill bits, in septets
        if udl < skip:
            raise PduError(f"UDL {udl} shorter than the {skip}-septet header")
        septets = unpack_septets(ud, udl - skip, skip * 7)
        return gsm7_to_text(septets), ud[header_octets:], concat
    if udl > len(ud):
        raise PduError(f"UDL {udl} but only {len(ud)} octets of user data")
    body = ud[header_octets:udl]
    if alphabet == "ucs2":
        if len(body) % 2:
            body = body[:-1]  # a torn last code unit: keep what is whole
        return body.decode("utf-16-be", errors="replace"), body, concat
    return decode_8bit(body), body, concat


def _semi_octets(data: bytes) -> str:
    return "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in data)


def decode_address(raw: bytes, pos: int) -> tuple[str, int]:
    """``(address, next position)``; TON 101 is an alphanumeric sender in GSM 7-bit."""
    try:
        digits, toa = raw[pos], raw[pos + 1]
    except IndexError:
        raise PduError("address truncated") from None
    octets = (digits + 1) // 2
    value = raw[pos + 2 : pos + 2 + octets]
    if len(value) != octets:
        raise PduError("address truncated")
    ton = (toa >> 4) & 0x07
    if ton == 0b101:
        text = gsm7_to_text(unpack_septets(value, digits * 4 // 7))
        return text.rstrip("@"), pos + 2 + octets  # '@' is septet 0: padding
    number = _semi_octets(value)[:digits].rstrip("F")
    number = number.translate(str.maketrans("ABC", "*#+"))
    return ("+" + number if ton == 0b001 and number else number), pos + 2 + octets


def decode_scts(raw: bytes) -> datetime | None:
    """The seven-octet service centre time stamp, with its zone (quarter hours, sign bit)."""
    if len(raw) != 7:
        raise PduError("time stamp truncated")
    fields = []
    for b in raw[:6]:
        lo, hi = b & 0x0F, b >> 4
        if lo > 9 or hi > 9:
            raise PduError(f"time stamp octet {b:#04x} is not BCD")
        fields.append(lo * 10 + hi)
    tz = raw[6]
    quarters = (tz & 0x07) * 10 + (tz >> 4)
    if tz >> 4 > 9 or quarters > 79:
        raise PduError(f"time zone octet {tz:#04x} is not BCD")
    offset = timedelta(minutes=15 * quarters) * (-1 if tz & 0x08 else 1)
    yy, mo, dd, hh, mi, ss = fields
    try:
        century = 2000 if yy < 80 else 1900  # the stamp has two digits; 80-99: old test vectors
        return datetime(century + yy, mo, dd, hh, mi, ss, tzinfo=timezone(offset))
    except ValueError:
        return None  # a network that sends 00/00/00: keep the message, drop the stamp


def decode(hexdata: str, *, with_smsc: bool = True) -> Received:
    """Decode a received PDU as ``AT+CMGR`` / ``+CMT`` print it (SMSC address first)."""
    try:
        raw = bytes.fromhex(hexdata.strip())
    except ValueError:
        raise PduError("PDU is not hex") from None
    if not raw:
        raise PduError("empty PDU")
    pos = 1 + raw[0] if with_smsc else 0
    if pos >= len(raw):
        raise PduError("PDU has no TPDU after the SMSC address")
    fo = raw[pos]
    mti = fo & 0x03
    if mti == 0b10:
        return Received(kind="status_report")
    if mti != 0b00:
        raise PduError(f"not an SMS-DELIVER (first octet {fo:#04x})")
    sender, pos = decode_address(raw, pos + 1)
    head = raw[pos : pos + 10]  # PID, DCS, SCTS (7), UDL
    if len(head) != 10:
        raise PduError("SMS-DELIVER header truncated")
    alphabet = dcs_alphabet(head[1])
    sent_at = decode_scts(head[2:9])
    text, data, concat = user_text(raw[pos + 10 :], head[9], alphabet, bool(fo & 0x40))
    return Received("deliver", sender, text, sent_at, alphabet, concat, data)

"""SMS encoding: which alphabet, how many parts, and SMS-SUBMIT PDUs.

Text mode (``AT+CMGF=1``) cannot send a concatenated SMS: the parts would
arrive as separate messages. So a message that fits one SMS goes in text
mode (IRA for plain GSM-safe ASCII, UCS2 hex otherwise), and a long one goes
as SMS-SUBMIT PDUs with a concatenation header (3GPP TS 23.040 9.2.3.24.1),
which is what phones reassemble into one message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: GSM 03.38 default alphabet, index = septet value (0x1B, the escape, left out)
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_INDEX = {ch: i for i, ch in enumerate(GSM7_BASIC) if ch != "\x1b"}

SINGLE_GSM7 = 160
SINGLE_UCS2 = 70  # UTF-16 code units
PART_GSM7 = 153  # 160 - 7 septets of concatenation header
PART_UCS2 = 67  # 70 - 3 code units of concatenation header
MAX_PARTS = 10

NUMBER_RE = re.compile(r"^\+?[0-9]{3,20}$")


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM7_INDEX for ch in text)


def is_plain_ira(text: str) -> bool:
    """Printable ASCII that is also in the GSM alphabet: safe to type in text mode."""
    return all(" " <= ch <= "~" and ch in _GSM7_INDEX for ch in text)


def ucs2_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def from_ucs2_hex(data: str) -> str | None:
    """Decode UCS2 hex; None when ``data`` is not UCS2 hex."""
    if not data or len(data) % 4 or not re.fullmatch(r"[0-9A-Fa-f]+", data):
        return None
    try:
        return bytes.fromhex(data).decode("utf-16-be")
    except UnicodeDecodeError:
        return None


def decode_number(raw: str) -> str:
    """A number as the modem printed it; UCS2 hex (when ``AT+CSCS="UCS2"``) decoded."""
    text = from_ucs2_hex(raw) if len(raw) >= 8 else None
    if text is not None and re.fullmatch(r"\+?[0-9*#]+", text):
        return text
    return raw


@dataclass(frozen=True, slots=True)
class Plan:
    """How a text will be sent: ``mode`` is ``text-ira``, ``text-ucs2`` or ``pdu``."""

    mode: str
    alphabet: str  # "gsm7" | "ucs2"
    parts: list[str]


def _split_units(text: str, size: int) -> list[str]:
    """Split by UTF-16 code units without cutting a surrogate pair."""
    parts: list[str] = []
    cur: list[str] = []
    used = 0
    for ch in text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if used + n > size:
            parts.append("".join(cur))
            cur, used = [], 0
        cur.append(ch)
        used += n
    if cur:
        parts.append("".join(cur))
    return parts


def plan(text: str) -> Plan:
    if not text:
        raise ValueError("empty SMS")
    if is_gsm7(text):
        if len(text) <= SINGLE_GSM7 and is_plain_ira(text):
            return Plan("text-ira", "gsm7", [text])
        if len(text) <= SINGLE_GSM7:
            return Plan("pdu", "gsm7", [text])
        parts = [text[i : i + PART_GSM7] for i in range(0, len(text), PART_GSM7)]
        return Plan("pdu", "gsm7", parts)
    units = len(text.encode("utf-16-be")) // 2
    if units <= SINGLE_UCS2:
        return Plan("text-ucs2", "ucs2", [text])
    return Plan("pdu", "ucs2", _split_units(text, PART_UCS2))


def pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack 7-bit values LSB first, after ``fill_bits`` zero bits."""
    out = bytearray()
    acc, nbits = 0, fill_bits
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def encode_address(number: str) -> bytes:
    digits = number.lstrip("+")
    toa = 0x91 if number.startswith("+") else 0x81
    padded = digits + ("F" if len(digits) % 2 else "")
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return bytes([len(digits), toa]) + bytes.fromhex(swapped)


def submit_pdu(
    number: str,
    text: str,
    alphabet: str,
    *,
    concat: tuple[int, int, int] | None = None,
    validity: int | None = 0xA7,
) -> tuple[int, str]:
    """One SMS-SUBMIT as ``(TPDU length for AT+CMGS, hex incl. empty SMSC)``.

    ``concat`` is ``(reference, total, sequence)`` for one part of a long message.
    """
    fo = 0x01 | (0x10 if validity is not None else 0) | (0x40 if concat else 0)
    head = bytes([fo, 0x00]) + encode_address(number) + bytes([0x00, 0x08 if alphabet == "ucs2" else 0x00])
    if validity is not None:
        head += bytes([validity])
    udh = bytes([0x05, 0x00, 0x03, *concat]) if concat else b""
    if alphabet == "ucs2":
        body = text.encode("utf-16-be")
        ud = udh + body
        udl = len(ud)
    else:
        septets = [_GSM7_INDEX[ch] for ch in text]
        fill = (7 - (len(udh) * 8) % 7) % 7 if udh else 0
        ud = udh + pack_septets(septets, fill)
        udl = (len(udh) * 8 + fill) // 7 + len(septets)
    tpdu = head + bytes([udl]) + ud
    return len(tpdu), ("00" + tpdu.hex()).upper()


def submit_pdus(number: str, text: str, alphabet: str, reference: int) -> list[tuple[int, str]]:
    p = plan(text)
    parts = p.parts if p.alphabet == alphabet else [text]
    if len(parts) == 1:
        return [submit_pdu(number, parts[0], alphabet)]
    total = len(parts)
    return [
        submit_pdu(number, part, alphabet, concat=(reference & 0xFF, total, i + 1))
        for i, part in enumerate(parts)
    ]


def parse_udh(data: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """``((ref, total, seq) or None, rest)`` from user data that starts with a UDH."""
    if not data:
        return None, data
    udhl = data[0]
    header, rest = data[1 : 1 + udhl], data[1 + udhl :]
    concat = None
    i = 0
    while i + 1 < len(header):
        iei, ln = header[i], header[i + 1]
        val = header[i + 2 : i + 2 + ln]
        if iei == 0x00 and ln == 3 and len(val) == 3:
            concat = (val[0], val[1], val[2])
        elif iei == 0x08 and ln == 4 and len(val) == 4:
            concat = ((val[0] << 8) | val[1], val[2], val[3])
        i += 2 + ln
    return concat, rest

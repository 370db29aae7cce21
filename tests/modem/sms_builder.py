"""SMS-DELIVER PDUs for the tests, written from the specs, not from the driver.

3GPP TS 23.040 9.2.2.1 (SMS-DELIVER layout), 9.2.3.11 (time stamp), 9.2.3.24
(user data header, fill bits), 9.2.3.24.1 / .8 (8- and 16-bit concatenation),
TS 23.040 9.1.2.5 (address, TON 101 = alphanumeric in GSM 7-bit), TS 23.038
6.1.2.1 (septet packing) and 6.2.1 (alphabet and extension table — taken
from the independent ``smspdudecoder`` package, which also decodes every PDU
built here, so the builder itself is checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from smspdudecoder.codecs import GSM

SMSC_FIELD = "059126181642"  # +62816124: length in octets, TON/NPI 0x91, semi-octets


def septets(text: str) -> list[int]:
    """TS 23.038 6.2.1: a character of the extension table is ESC (27) + its code."""
    ext = {ch: code for code, ch in GSM.ALPHABET_EXT.items()}
    out: list[int] = []
    for ch in text:
        out += [27, ext[ch]] if ch in ext else [GSM.ALPHABET.index(ch)]
    return out


def pack(values: list[int], fill_bits: int = 0) -> bytes:
    """TS 23.038 6.1.2.1.1: septet n starts at bit 7n (plus the fill), LSB first."""
    bits = "0" * fill_bits + "".join(format(v, "07b")[::-1] for v in values)  # LSB-first bit string
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))


def semi_octets(digits: str) -> bytes:
    digits += "F" * (len(digits) % 2)
    return bytes(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))


def originator(sender: str) -> bytes:
    """TS 23.040 9.1.2.5: length in useful semi-octets, then type of address."""
    if sender.lstrip("+").isdigit():
        toa = 0x91 if sender.startswith("+") else 0x81  # TON 001 international / 000 unknown
        return bytes([len(sender.lstrip("+")), toa]) + semi_octets(sender.lstrip("+"))
    packed = pack(septets(sender))
    return bytes([(len(septets(sender)) * 7 + 3) // 4, 0xD0]) + packed  # TON 101, NPI 0000


def stamp(when: datetime) -> bytes:
    """TS 23.040 9.2.3.11: BCD semi-octets swapped; zone in quarter hours, bit 3 = minus."""
    off = when.utcoffset() or timedelta()
    quarters = int(abs(off).total_seconds() // 900)
    digits = f"{when:%y%m%d%H%M%S}{quarters:02d}"
    raw = bytearray(semi_octets(digits))
    if off < timedelta():
        raw[6] |= 0x08
    return bytes(raw)


@dataclass
class Built:
    tpdu: bytes
    text: str  # the part's text (8-bit: latin-1 of its octets)
    ud: bytes = b""  # the user data (header included), as text mode prints it in hex

    @property
    def hex_with_smsc(self) -> str:
        return SMSC_FIELD + self.tpdu.hex().upper()


def deliver(sender: str, text: str, when: datetime, *, coding: str = "gsm7",
            concat: tuple[int, int, int] | None = None, ref16: bool = False) -> Built:
    """One SMS-DELIVER: ``coding`` gsm7 (DCS 0x00), 8bit (0x04) or ucs2 (0x08)."""
    udh = b""
    if concat:
        ref, total, seq = concat
        udh = (bytes([6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq]) if ref16
               else bytes([5, 0x00, 3, ref, total, seq]))
    first = 0x04 | (0x40 if udh else 0)  # MTI 00 SMS-DELIVER, TP-MMS, TP-UDHI
    if coding == "gsm7":
        fill = -len(udh) * 8 % 7
        ud = udh + pack(septets(text), fill)
        udl = (len(udh) * 8 + fill) // 7 + len(septets(text))
    else:
        body = text.encode("utf-16-be") if coding == "ucs2" else text.encode("latin-1")
        ud, udl = udh + body, len(udh) + len(body)
    dcs = {"gsm7": 0x00, "8bit": 0x04, "ucs2": 0x08}[coding]
    tpdu = bytes([first]) + originator(sender) + bytes([0x00, dcs]) + stamp(when) + bytes([udl]) + ud
    return Built(tpdu, text, ud)


def long_message(sender: str, chunks: list[str], when: datetime, *, coding: str = "gsm7",
                 ref: int = 0x42, ref16: bool = False) -> list[Built]:
    return [deliver(sender, chunk, when, coding=coding, concat=(ref, len(chunks), i + 1), ref16=ref16)
            for i, chunk in enumerate(chunks)]

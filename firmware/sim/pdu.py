"""The simulator's own SMS-SUBMIT decoder (3GPP TS 23.040).

Deliberately not shared with the driver's encoder: a codec checked only
against itself would hide a symmetric mistake. Only the GSM alphabet table,
which is data, comes from the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware.modem.sms import GSM7_BASIC


class PduError(ValueError):
    """The PDU is malformed (a real modem answers +CMS ERROR: 304)."""


@dataclass(frozen=True, slots=True)
class Submit:
    number: str
    text: str
    dcs: int
    tpdu_length: int
    concat: tuple[int, int, int] | None  # (ref, total, seq)


def _unpack7(data: bytes, count: int, skip_bits: int) -> str:
    bits = int.from_bytes(data, "little")
    out = []
    for i in range(count):
        septet = (bits >> (skip_bits + 7 * i)) & 0x7F
        out.append(GSM7_BASIC[septet] if septet != 0x1B else "?")
    return "".join(out)


def decode_submit(hexdata: str) -> Submit:
    try:
        raw = bytes.fromhex(hexdata.strip())
    except ValueError as exc:
        raise PduError(f"not hex: {exc}") from exc
    try:
        smsc_len = raw[0]
        tpdu = raw[1 + smsc_len :]
        fo = tpdu[0]
        if fo & 0x03 != 0x01:
            raise PduError(f"not an SMS-SUBMIT (first octet {fo:#04x})")
        pos = 2  # fo, MR
        digits = tpdu[pos]
        toa = tpdu[pos + 1]
        addr_bytes = (digits + 1) // 2
        sw = tpdu[pos + 2 : pos + 2 + addr_bytes].hex().upper()
        number = "".join(sw[i + 1] + sw[i] for i in range(0, len(sw), 2))[:digits]
        if toa == 0x91:
            number = "+" + number
        pos += 2 + addr_bytes
        dcs = tpdu[pos + 1]
        pos += 2
        vpf = (fo >> 3) & 0x03
        pos += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
        udl = tpdu[pos]
        ud = tpdu[pos + 1 :]
    except IndexError as exc:
        raise PduError("PDU too short") from exc
    concat = None
    udh_len = 0
    if fo & 0x40:
        if not ud:
            raise PduError("UDHI set but no user data")
        udh_len = ud[0] + 1
        header = ud[1:udh_len]
        i = 0
        while i + 1 < len(header):
            iei, ln = header[i], header[i + 1]
            val = header[i + 2 : i + 2 + ln]
            if iei == 0x00 and ln == 3:
                concat = (val[0], val[1], val[2])
            elif iei == 0x08 and ln == 4:
                concat = ((val[0] << 8) | val[1], val[2], val[3])
            i += 2 + ln
    alphabet = (dcs >> 2) & 0x03 if dcs & 0xC0 == 0 else 0
    if alphabet == 2:  # UCS2
        if len(ud) != udl:
            raise PduError(f"UDL {udl} but {len(ud)} octets of user data")
        try:
            text = ud[udh_len:].decode("utf-16-be")
        except UnicodeDecodeError as exc:
            raise PduError("bad UCS2") from exc
    elif alphabet == 0:  # GSM 7-bit
        header_septets = (udh_len * 8 + 6) // 7
        if len(ud) != (udl * 7 + 7) // 8:
            raise PduError(f"UDL {udl} septets does not match {len(ud)} octets")
        text = _unpack7(ud, udl - header_septets, header_septets * 7)
    else:
        text = ud[udh_len:].hex()
    return Submit(number, text, dcs, len(tpdu), concat)

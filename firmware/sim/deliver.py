"""The simulated network's SMS-DELIVER and SMS-STATUS-REPORT (3GPP TS 23.040).

The builder is separate code from the driver's decoder (``firmware.modem.pdu``):
the simulator builds what a network sends and prints it as real modems do,
in PDU mode (SMSC + TPDU hex) or text mode (hex user data whenever the
coding or a header says so, GSM 7-bit still packed). The text-mode view of
a plain GSM 7-bit body borrows the driver's septet reader; the tests check
every PDU against an independent decoder (``smspdudecoder``) instead.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from firmware.modem.pdu import GSM7_EXT, gsm7_to_text, unpack_septets
from firmware.modem.sms import GSM7_BASIC

SMSC = "+62816124"
_BASIC = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != 0x1B}
_EXT = {ch: code for code, ch in GSM7_EXT.items()}
_NUMBER = re.compile(r"\+?[0-9]{1,20}")

PART_SEPTETS = {8: 153, 16: 152}  # 160 minus the 6 / 7 octet concatenation header (with fill)


def gsm7_septets(text: str) -> list[int] | None:
    """Septets of ``text`` (extension characters as escape pairs); None if not GSM 7-bit."""
    out: list[int] = []
    for ch in text:
        if ch in _BASIC:
            out.append(_BASIC[ch])
        elif ch in _EXT:
            out += [0x1B, _EXT[ch]]
        else:
            return None
    return out


def _pack(septets: list[int], fill: int = 0) -> bytes:
    value = 0
    for i, s in enumerate(septets):
        value |= s << (fill + 7 * i)
    nbits = fill + 7 * len(septets)
    return value.to_bytes((nbits + 7) // 8, "little")


def _bcd(value: int) -> int:
    return (value % 10) << 4 | (value // 10)


def scts(when: datetime) -> bytes:
    """Seven octets, semi-octets swapped; the zone in quarter hours, bit 3 its sign."""
    off = when.utcoffset() or timedelta()
    q = int(abs(off.total_seconds()) // 900)
    tz = _bcd(q) | (0x08 if off < timedelta() else 0)
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    return bytes(_bcd(v) for v in fields) + bytes([tz])


def address(sender: str) -> bytes:
    """Originator address: international, national digits, or alphanumeric (TON 101)."""
    if _NUMBER.fullmatch(sender):
        digits = sender.lstrip("+")
        toa = 0x91 if sender.startswith("+") else 0x81
        padded = digits + "F" * (len(digits) % 2)
        return bytes([len(digits), toa]) + bytes.fromhex(
            "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))
    septets = gsm7_septets(sender)
    if septets is None or len(septets) > 11:
        raise ValueError(f"alphanumeric sender must be at most 11 GSM characters: {sender!r}")
    packed = _pack(septets)
    return bytes([len(septets) * 7 // 4 + (1 if len(septets) * 7 % 4 else 0), 0xD0]) + packed


def split(text: str, alphabet: str, ref_bits: int = 8) -> list:
    """Chunks of one part each: septet lists (GSM 7-bit, never splitting an escape
    pair), or octet strings (8-bit, UCS2 never splitting a surrogate pair)."""
    if alphabet == "gsm7":
        septets = gsm7_septets(text) or []
        if len(septets) <= 160:
            return [septets]
        size, chunks, i = PART_SEPTETS[ref_bits], [], 0
        while i < len(septets):
            end = min(i + size, len(septets))
            if septets[end - 1] == 0x1B and end < len(septets):
                end -= 1
            chunks.append(septets[i:end])
            i = end
        return chunks
    data = text.encode("utf-16-be" if alphabet == "ucs2" else "utf-8")
    if len(data) <= 140:
        return [data]
    size = 134 if ref_bits == 8 else 132
    parts: list[bytes] = []
    i = 0
    while i < len(data):
        end = min(i + size, len(data))
        if alphabet == "ucs2" and 0xD8 <= data[end - 2] <= 0xDB and end < len(data):
            end -= 2  # a high surrogate: keep the pair together
        parts.append(data[i:end])
        i = end
    return parts


def deliver_tpdu(sender: str, chunk, alphabet: str, when: datetime,
                 concat: tuple[int, int, int] | None = None, ref_bits: int = 8) -> bytes:
    """One SMS-DELIVER TPDU (no SMSC address in front)."""
    udh = b""
    if concat:
        ref, total, seq = concat
        udh = (bytes([5, 0, 3, ref & 0xFF, total, seq]) if ref_bits == 8
               else bytes([6, 8, 4, ref >> 8 & 0xFF, ref & 0xFF, total, seq]))
    fo = 0x04 | (0x40 if udh else 0)  # SMS-DELIVER, no more messages to send
    dcs = {"gsm7": 0x00, "8bit": 0x04, "ucs2": 0x08}[alphabet]
    if alphabet == "gsm7":
        fill = (7 - len(udh) * 8 % 7) % 7 if udh else 0
        ud = udh + _pack(list(chunk), fill)
        udl = (len(udh) * 8 + fill) // 7 + len(chunk)
    else:
        ud = udh + bytes(chunk)
        udl = len(ud)
    return bytes([fo]) + address(sender) + bytes([0x00, dcs]) + scts(when) + bytes([udl]) + ud


def status_report_tpdu(recipient: str, mr: int, when: datetime) -> bytes:
    """SMS-STATUS-REPORT: the message ``mr`` to ``recipient`` was delivered (TP-ST 0)."""
    return bytes([0x06, mr & 0xFF]) + address(recipient) + scts(when) + scts(when) + bytes([0x00])


def with_smsc(tpdu: bytes) -> str:
    """As ``AT+CMGR`` prints it in PDU mode: the SMSC address field, then the TPDU."""
    a = address(SMSC)
    return (bytes([len(a) - 1]) + a[1:] + tpdu).hex().upper()


def _stamp(raw: bytes) -> str:
    d = [(b & 0x0F) * 10 + (b >> 4) for b in raw[:6]]
    q = (raw[6] & 0x07) * 10 + (raw[6] >> 4)
    sign = "-" if raw[6] & 0x08 else "+"
    return f"{d[0]:02d}/{d[1]:02d}/{d[2]:02d},{d[3]:02d}:{d[4]:02d}:{d[5]:02d}{sign}{q:02d}"


def _read_address(tpdu: bytes, pos: int) -> tuple[str, int, int]:
    n, toa = tpdu[pos], tpdu[pos + 1]
    raw = tpdu[pos + 2 : pos + 2 + (n + 1) // 2]
    if toa & 0x70 == 0x50:
        return gsm7_to_text(unpack_septets(raw, n * 4 // 7)), toa, pos + 2 + len(raw)
    digits = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in raw)[:n]
    return ("+" if toa & 0x70 == 0x10 else "") + digits, toa, pos + 2 + len(raw)


def text_mode(tpdu: bytes, *, csdh: bool, ucs2: bool) -> tuple[str, str | None]:
    """``(header fields, body line or None)`` as a modem prints a stored message in
    text mode; ``ucs2``: ``AT+CSCS="UCS2"`` is in force (strings as UCS2 hex)."""
    def enc(s: str) -> str:
        return s.encode("utf-16-be").hex().upper() if ucs2 else s

    fo = tpdu[0]
    if fo & 0x03 == 0x02:  # status report: one line, no body
        ra, tora, pos = _read_address(tpdu, 2)
        sc, dt, st = _stamp(tpdu[pos : pos + 7]), _stamp(tpdu[pos + 7 : pos + 14]), tpdu[pos + 14]
        return f'{fo},{tpdu[1]},"{enc(ra)}",{tora},"{sc}","{dt}",{st}', None
    oa, tooa, pos = _read_address(tpdu, 1)
    pid, dcs = tpdu[pos], tpdu[pos + 1]
    stamp = _stamp(tpdu[pos + 2 : pos + 9])
    udl, ud = tpdu[pos + 9], tpdu[pos + 10 :]
    alphabet = (dcs >> 2) & 0x03 if dcs < 0x80 else (1 if dcs & 0xF4 == 0xF4 else 0)
    if fo & 0x40 or alphabet in (1, 2):  # a header, 8-bit or UCS2: hex of the user data
        body, length = ud.hex().upper(), len(ud)
    else:
        text = gsm7_to_text(unpack_septets(ud, udl))
        length = len(text)
        body = enc(text) if ucs2 else text.encode("ascii", errors="replace").decode("ascii")
    fields = f'"{enc(oa)}","","{stamp}"'
    if csdh:
        fields += f',{tooa},{fo},{pid},{dcs},"{enc(SMSC)}",145,{length}'
    return fields, body

"""Reading an SMS that a modem printed in text mode (``AT+CMGF=1``).

A ``+CMT`` pushed while the modem is in text mode (and the fallback read on
a modem that refuses PDU mode) comes as header fields plus one body line.
The body is plain text only for GSM 7-bit without a header; whenever the
data coding says 8-bit or UCS2, or the first octet says a user data header
follows (concatenation), the modem prints the user data as hex — for GSM
7-bit still packed in septets. This module turns that back into the same
:class:`~firmware.modem.pdu.Received` the PDU decoder gives.
"""

from __future__ import annotations

import re

from firmware.modem import pdu
from firmware.modem.info import parse_clock
from firmware.modem.sms import from_ucs2_hex

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def septet_count(octets: bytes, length: int | None) -> int:
    """How many septets packed user data holds.

    ``length`` (the header's last field) is used when it is a septet count that
    fits; else the count follows from the octets. Seven octets hold 8 septets
    or 7 plus 7 zero padding bits: a final septet 0 there is padding.
    """
    n = len(octets)
    if length is not None and (length * 7 + 7) // 8 == n:
        return length
    count = n * 8 // 7
    if n % 7 == 0 and count and pdu.unpack_septets(octets, count)[-1] == 0:
        count -= 1
    return count


def decode(fields: list[str], body: str, *, charset: str = "IRA") -> pdu.Received:
    """``fields`` = ``[oa, alpha, scts, tooa, fo, pid, dcs, sca, tosca, length]``
    (the last seven only with ``AT+CSDH=1``); ``charset`` is the ``+CSCS`` in force."""
    if len(fields) < 3:
        raise pdu.PduError(f"text-mode header has {len(fields)} fields")
    oa = fields[0]
    if charset == "UCS2":
        oa = from_ucs2_hex(oa) or oa
    sent_at = parse_clock(fields[2])
    if len(fields) < 7:  # no +CSDH=1 details: the body is all we know
        text = from_ucs2_hex(body) if charset == "UCS2" else None
        return pdu.Received("deliver", oa, text if text is not None else body, sent_at)
    tooa, fo, dcs = _int(fields[3], 0x81), _int(fields[4]), _int(fields[6])
    if (tooa >> 4) & 0x07 == 0b001 and oa and not oa.startswith("+"):
        oa = "+" + oa
    alphabet = pdu.dcs_alphabet(dcs)
    udhi = bool(fo & 0x40)
    if not udhi and alphabet == "gsm7":
        text = from_ucs2_hex(body) if charset == "UCS2" else None
        return pdu.Received("deliver", oa, text if text is not None else body, sent_at)
    if not _HEX.fullmatch(body):
        raise pdu.PduError("text-mode body should be hex for this data coding")
    ud = bytes.fromhex(body)
    length = _int(fields[9], -1) if len(fields) > 9 else -1
    udl = septet_count(ud, length if length >= 0 else None) if alphabet == "gsm7" else len(ud)
    text, data, concat = pdu.user_text(ud, udl, alphabet, udhi)
    return pdu.Received("deliver", oa, text, sent_at, alphabet, concat, data)


def is_status_report(header_payload: str, *, listing: bool) -> bool:
    """A stored status report in text mode has no body line: ``+CMGL: <i>,<stat>,<fo>,...``
    / ``+CMGR: <stat>,<fo>,...`` where a message has a quoted address instead."""
    fields = header_payload.split(",")
    i = 2 if listing else 1
    return len(fields) > i and fields[i].strip().isdigit()

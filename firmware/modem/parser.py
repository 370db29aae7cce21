"""Bytes to lines, and lines to kinds: the pure half of the AT reader.

Nothing here does I/O or raises on input, so it can be fed any byte stream
(the hypothesis test does exactly that). Real modems send ``\\r\\n``-framed
lines, but also bare ``\\r`` or ``\\n``, NUL bytes and noise after a
brownout, and a ``> `` prompt with no line end when they want SMS data.
"""

from __future__ import annotations

import enum
import re

#: the SMS data prompt, reported as a line of its own
PROMPT = "> "

#: a partial line longer than this is flushed as garbage (noise, wrong baud rate)
MAX_LINE = 2048

_NOISE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class LineSplitter:
    """Turns a byte stream into text lines; blank lines are dropped.

    ``garbage`` counts bytes that could not be decoded or lines that ran
    too long: the reader reports it instead of failing on them.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buf = bytearray()
        self._max = max_line
        self.garbage = 0

    def feed(self, data: bytes) -> list[str]:
        out: list[str] = []
        self._buf.extend(data)
        while True:
            cr, lf = self._buf.find(b"\r"), self._buf.find(b"\n")
            if cr < 0 and lf < 0:
                break
            cut = lf if cr < 0 else cr if lf < 0 else min(cr, lf)
            raw = bytes(self._buf[:cut])
            del self._buf[: cut + 1]
            line = self._decode(raw)
            if line:
                out.append(line)
        if bytes(self._buf).lstrip(b"\x00") == b"> ":
            self._buf.clear()
            out.append(PROMPT)
        elif len(self._buf) > self._max:
            self.garbage += len(self._buf)
            self._buf.clear()
        return out

    def reset(self) -> None:
        self._buf.clear()

    def _decode(self, raw: bytes) -> str:
        text = raw.decode("ascii", errors="replace")
        bad = text.count("\ufffd")
        cleaned = _NOISE.sub("", text)
        bad += len(text) - len(cleaned)
        if bad:
            self.garbage += bad
            cleaned = cleaned.replace("\ufffd", "")
        return cleaned.strip()


class Final(enum.Enum):
    """How a command ended."""

    OK = "ok"
    CONNECT = "connect"
    ERROR = "error"
    CME = "cme"
    CMS = "cms"
    NO_CARRIER = "no_carrier"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    NO_DIALTONE = "no_dialtone"


_FINAL_EXACT = {
    "OK": Final.OK,
    "ERROR": Final.ERROR,
    "NO CARRIER": Final.NO_CARRIER,
    "BUSY": Final.BUSY,
    "NO ANSWER": Final.NO_ANSWER,
    "NO DIALTONE": Final.NO_DIALTONE,
    "CONNECT": Final.CONNECT,
}

#: finals that are also unsolicited when no dial/answer is pending
CALL_FINALS = frozenset({Final.NO_CARRIER, Final.BUSY, Final.NO_ANSWER, Final.NO_DIALTONE})


def final_code(line: str) -> Final | None:
    """The final result code this line is, or None."""
    if line in _FINAL_EXACT:
        return _FINAL_EXACT[line]
    if line.startswith("+CME ERROR:"):
        return Final.CME
    if line.startswith("+CMS ERROR:"):
        return Final.CMS
    if line.startswith("CONNECT "):
        return Final.CONNECT
    return None


def error_number(line: str) -> int | None:
    """The number of a ``+CME ERROR: <n>`` / ``+CMS ERROR: <n>`` line, if numeric."""
    _, _, rest = line.partition(":")
    rest = rest.strip()
    return int(rest) if rest.isdigit() else None


#: unsolicited result codes we understand, by exact text or prefix
URC_EXACT = frozenset({
    "RING", "RDY", "Call Ready", "SMS Ready", "SMS DONE", "PB DONE", "NORMAL POWER DOWN",
    "UNDER-VOLTAGE POWER DOWN", "UNDER-VOLTAGE WARNNING", "UNDER-VOLTAGE WARNING",
    "OVER-VOLTAGE POWER DOWN", "OVER-VOLTAGE WARNNING", "OVER-VOLTAGE WARNING",
    "VOICE CALL: BEGIN", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE",
})
URC_PREFIXES = (
    "+CLIP:", "+CLCC:", "+CMTI:", "+CMT:", "+CREG:", "+CGREG:", "+CEREG:", "+CPIN:",
    "+CFUN:", "*PSUTTZ:", "+CTZV:", "DST:", "VOICE CALL: END", "MISSED_CALL:", "+CUSD:",
    "+CDS:", "+CDSI:", "+CBM:", "+CRING:", "^CEND:", "^CONN:", "^CONF:", "^ORIG:", "HANGUP:",
    "+WIND:",
)

#: URCs followed by one more line that belongs to them (text mode SMS body)
URC_WITH_BODY = ("+CMT:", "+CBM:")


def is_urc(line: str) -> bool:
    return line in URC_EXACT or line.startswith(URC_PREFIXES)


def urc_needs_body(line: str) -> bool:
    """``+CMT`` (both modes) and a PDU-mode ``+CDS: <length>`` carry a second line."""
    if line.startswith("+CDS:"):
        return payload(line).isdigit()
    return line.startswith(URC_WITH_BODY)


def split_fields(text: str) -> list[str]:
    """Split ``a,"b,c",d`` into ``['a', 'b,c', 'd']`` (quotes removed)."""
    fields: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            fields.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    fields.append("".join(cur).strip())
    return fields


def payload(line: str) -> str:
    """What follows the ``+XXX:`` prefix."""
    _, _, rest = line.partition(":")
    return rest.strip()

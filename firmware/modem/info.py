"""Parsers for the modem's status answers: signal, registration, clocks.

Each takes the text after ``+XXX:`` and returns None (or ``unknown``) for
anything it cannot read, so a modem firmware that prints a field differently
degrades telemetry instead of crashing the driver.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from firmware.modem.parser import split_fields

#: 27.007 <stat> -> protocol.fleet.Registration value
REG_STATES = {
    0: "not_registered",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
    6: "home",  # SMS only, home (E-UTRAN)
    7: "roaming",  # SMS only, roaming
}


def csq_to_dbm(text: str) -> int | None:
    """``+CSQ: <rssi>,<ber>`` -> dBm (-113 + 2 * rssi); None for 99 or junk."""
    fields = split_fields(text)
    try:
        rssi = int(fields[0])
    except (ValueError, IndexError):
        return None
    if 0 <= rssi <= 31:
        return -113 + 2 * rssi
    return None


def creg_state(text: str, *, query: bool) -> str:
    """Registration from ``+CREG:``. A query answer has ``<n>,<stat>[,...]``,
    a URC ``<stat>[,<lac>,<ci>[,<act>]]``."""
    fields = split_fields(text)
    idx = 1 if query else 0
    try:
        return REG_STATES.get(int(fields[idx]), "unknown")
    except (ValueError, IndexError):
        return "unknown"


def creg_is_query_answer(text: str) -> bool:
    """Tell a ``+CREG?`` answer from a URC when both look alike.

    URC: 1 field, or 3-4 with quoted hex lac/ci; answer: 2 fields, or 4-5
    where the second field is a stat digit and the third a quoted lac.
    """
    fields = split_fields(text)
    if len(fields) == 2:
        return True
    if len(fields) in (4, 5):
        return fields[1].isdigit() and not re.fullmatch(r"[0-9A-Fa-f]{4,}", fields[1])
    return False


def _tz(quarters: str) -> timezone | None:
    try:
        q = int(quarters)
    except ValueError:
        return None
    if not -48 <= q <= 56:
        return None
    return timezone(timedelta(minutes=15 * q))


_CCLK = re.compile(
    r'"?(\d{2,4})/(\d{1,2})/(\d{1,2}),(\d{1,2}):(\d{1,2}):(\d{1,2})([+-]\d{1,2})?"?'
)


def parse_clock(text: str) -> datetime | None:
    """``"yy/MM/dd,hh:mm:ss±zz"`` (local time, zz in quarter hours) -> aware datetime.

    The modem's default clock (``04/01/01`` or ``80/01/06``) means it never got
    network time: return None rather than a date from the past.
    """
    m = _CCLK.search(text)
    if not m:
        return None
    year, month, day, hour, minute, second, tz = m.groups()
    y = int(year)
    y = y + 2000 if y < 100 else y
    tzinfo = _tz(tz) if tz else UTC
    if tzinfo is None or y < 2020:
        return None
    try:
        return datetime(y, int(month), int(day), int(hour), int(minute), int(second), tzinfo=tzinfo)
    except ValueError:
        return None


def parse_psuttz(text: str) -> datetime | None:
    """SIM800 ``*PSUTTZ: yyyy,MM,dd,hh,mm,ss,"±zz",dst`` (universal time)."""
    fields = split_fields(text)
    try:
        y, mo, d, h, mi, s = (int(f) for f in fields[:6])
        tz = _tz(fields[6]) or UTC
    except (ValueError, IndexError):
        return None
    y = y + 2000 if y < 100 else y
    if y < 2020:
        return None
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=UTC).astimezone(tz)
    except ValueError:
        return None


def parse_duration(text: str) -> float | None:
    """SIM7600 ``VOICE CALL: END: <t>``: ``hhmmss``, ``h:mm:ss`` or seconds."""
    t = text.strip()
    if re.fullmatch(r"\d{6}", t):
        return int(t[:2]) * 3600 + int(t[2:4]) * 60 + int(t[4:])
    if re.fullmatch(r"\d{1,3}:\d{2}:\d{2}", t):
        h, m, s = (int(x) for x in t.split(":"))
        return h * 3600 + m * 60 + s
    if t.isdigit():
        return float(t)
    return None

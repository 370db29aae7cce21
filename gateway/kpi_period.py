"""The period a dashboard or a report is about, and the one before it.

Periods are local (the site's time zone): "today" starts at local
midnight, a month is a calendar month, a custom period runs from the
first day's midnight to the midnight after the last day. The previous
period has the same length and ends where this one starts (a month's is
the calendar month before), so "change against the previous period" is
like for like. Labels are in Bahasa Indonesia, for the page and the PDF.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
          "Oktober", "November", "Desember")
ZONE_ABBR = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
             "Asia/Jayapura": "WIT"}
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
MAX_DAYS = 400  # a custom period longer than this is refused (a year and a bit)


class PeriodKind(enum.StrEnum):
    TODAY = "today"
    DAYS7 = "7d"
    DAYS30 = "30d"
    MONTH = "month"
    CUSTOM = "custom"


class PeriodError(ValueError):
    """A period that cannot be (bad month, end before start, too long)."""


class Period(BaseModel):
    kind: PeriodKind
    since: datetime
    until: datetime
    label: str = Field(description="The period in words (Bahasa Indonesia), as printed on the page")
    prev_since: datetime
    prev_until: datetime
    prev_label: str
    timezone: str
    month: str | None = Field(None, description="YYYY-MM when the period is a calendar month")


def day_label(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def month_label(year: int, month: int) -> str:
    return f"{MONTHS[month - 1]} {year}"


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` -> (year, month), or a PeriodError that says what is wrong."""
    m = MONTH_RE.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2999:
        raise PeriodError(f"bulan tidak valid / invalid month {text!r}: tulis / write YYYY-MM, "
                          "mis. / e.g. 2026-11")
    return int(m.group(1)), int(m.group(2))


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tz).astimezone(UTC)


def _span_label(since: datetime, until: datetime, tz: ZoneInfo, abbr: str) -> str:
    a, b = since.astimezone(tz), until.astimezone(tz)
    if b.time() == time(0) and a.time() == time(0):  # whole days: the last day is the one before
        last = (b - timedelta(days=1)).date()
        if last == a.date():
            return day_label(last)
        return f"{day_label(a.date())} – {day_label(last)}"
    if a.date() == b.date():
        return f"{day_label(a.date())}, {a:%H.%M}–{b:%H.%M} {abbr}"
    return f"{day_label(a.date())} {a:%H.%M} – {day_label(b.date())} {b:%H.%M} {abbr}"


def resolve(kind: PeriodKind | str, tz_name: str, now: datetime, *, month: str | None = None,
            start: date | None = None, end: date | None = None) -> Period:
    """The period of ``kind`` as of ``now`` (aware UTC)."""
    kind = PeriodKind(kind)
    tz = ZoneInfo(tz_name)
    abbr = ZONE_ABBR.get(tz_name, tz_name)
    local_today = now.astimezone(tz).date()
    prefix = ""
    if kind is PeriodKind.MONTH:
        if month is None:
            y, m = local_today.year, local_today.month
        else:
            y, m = parse_month(month)
        first = date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        prev = date(y - (m == 1), (m - 2) % 12 + 1, 1)
        since, until = _midnight(first, tz), _midnight(nxt, tz)
        prev_since, prev_until = _midnight(prev, tz), since
        return Period(kind=kind, since=since, until=until, label=f"Bulan {month_label(y, m)}",
                      prev_since=prev_since, prev_until=prev_until,
                      prev_label=f"Bulan {month_label(prev.year, prev.month)}", timezone=tz_name,
                      month=f"{y:04d}-{m:02d}")
    if kind is PeriodKind.CUSTOM:
        if start is None or end is None:
            raise PeriodError("periode khusus butuh tanggal awal dan akhir / a custom period needs "
                              "a start and an end date")
        if not (2000 <= start.year <= 2999 and 2000 <= end.year <= 2999):
            raise PeriodError("tanggal di luar 2000–2999 / dates must be within 2000-2999")
        if end < start:
            raise PeriodError("tanggal akhir sebelum tanggal awal / the end date is before the start")
        if (end - start).days + 1 > MAX_DAYS:
            raise PeriodError(f"periode paling lama {MAX_DAYS} hari / a period is at most {MAX_DAYS} days")
        since, until = _midnight(start, tz), _midnight(end + timedelta(days=1), tz)
    elif kind is PeriodKind.TODAY:
        since, until, prefix = _midnight(local_today, tz), now, "Hari ini"
    else:
        days = 7 if kind is PeriodKind.DAYS7 else 30
        since, until, prefix = now - timedelta(days=days), now, f"{days} hari terakhir"
    # today so far against the same hours yesterday; a span against the span before it
    back = timedelta(days=1) if kind is PeriodKind.TODAY else until - since
    prev_since, prev_until = since - back, until - back if kind is PeriodKind.TODAY else since
    label = _span_label(since, until, tz, abbr)
    return Period(kind=kind, since=since, until=until, label=f"{prefix}: {label}" if prefix else label,
                  prev_since=prev_since, prev_until=prev_until,
                  prev_label=("Kemarin: " if kind is PeriodKind.TODAY else "")
                  + _span_label(prev_since, prev_until, tz, abbr), timezone=tz_name)

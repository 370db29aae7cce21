"""Numbers in words for people: durations, shares and changes, Bahasa
Indonesia style (decimal comma). The PDF uses these; the dashboard's
script formats the same way (gateway/web/static/dashboard.js), so a
number reads alike on the page and on paper."""

from __future__ import annotations

import math

DASH = "–"


def pct(x: float | None) -> str:
    """A share as a whole percent (half up, as the page's Math.round)."""
    return DASH if x is None else f"{math.floor(x * 100 + 0.5)} %"


def _dec(x: float) -> str:
    return f"{x:.1f}".replace(".", ",")


def dur(s: float | None) -> str:
    """Seconds below 90 s, minutes below 90 minutes, else hours."""
    if s is None:
        return DASH
    if s < 90:
        return f"{math.floor(s + 0.5)} detik"
    if s < 5400:
        return f"{_dec(s / 60)} menit"
    return f"{_dec(s / 3600)} jam"


def change_dur(d: float | None) -> str:
    """A change of a duration: 'lebih cepat' (faster) when it fell."""
    if d is None:
        return DASH
    if abs(d) < 0.5:
        return "tetap"
    return f"{'lebih lambat' if d > 0 else 'lebih cepat'} {dur(abs(d))}"


def change_pct(d: float | None) -> str:
    """A change of a share, in percentage points."""
    if d is None:
        return DASH
    pts = math.floor(abs(d) * 100 + 0.5)
    if pts == 0:
        return "tetap"
    return f"{'naik' if d > 0 else 'turun'} {pts} poin"


def change_count(d: int) -> str:
    return "tetap" if d == 0 else f"{'+' if d > 0 else '-'}{abs(d)}"


def sla_level(x: float | None, good: float, warn: float) -> str:
    """green | amber | red | none: the colour of an SLA share against the site's targets."""
    if x is None:
        return "none"
    return "green" if x >= good else "amber" if x >= warn else "red"

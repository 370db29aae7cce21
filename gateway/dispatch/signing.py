"""HMAC-SHA256 signatures for webhooks and OPD callbacks.

The signed text is ``f"{timestamp}.{body}"`` (timestamp: Unix seconds as
sent in ``X-Siaga-Timestamp``), so a captured request cannot be replayed
after the window (default five minutes) nor with another body.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Siaga-Timestamp"
SIGNATURE_HEADER = "X-Siaga-Signature"
PREFIX = "sha256="


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` over ``f"{timestamp}.".encode() + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    ts = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, *,
           window_s: int = 300, now: float | None = None) -> str | None:
    """None when valid, else the reason (for a 401 message and a log line)."""
    if not timestamp or not signature:
        return "missing signature headers"
    try:
        ts = int(timestamp)
    except ValueError:
        return "bad timestamp"
    current = now if now is not None else time.time()
    if abs(current - ts) > window_s:
        return "timestamp outside the replay window"
    if not secret:
        return "no secret configured"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return "signature mismatch"
    return None

"""Webhook and callback signatures, the Standard Webhooks way.

Every delivery carries ``webhook-id`` (the delivery id: the same on every
retry, so the OPD can drop repeats), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256>`` over ``f"{id}.{timestamp}.{body}"``,
so an OPD vendor verifies with an off-the-shelf Standard Webhooks library.
The key is the secret's base64 part when it has the ``whsec_`` form, else
the secret's UTF-8 bytes (:func:`whsec` prints the equivalent ``whsec_``
form to give the vendor). Signed OPD callbacks use the same scheme; the
older ``X-Siaga-Timestamp``/``X-Siaga-Signature`` pair (over
``f"{timestamp}.{body}"``) is still accepted on callbacks only, for OPD
systems written before the change; webhooks no longer send it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

ID_HEADER = "webhook-id"
TS_HEADER = "webhook-timestamp"
SIG_HEADER = "webhook-signature"
WHSEC = "whsec_"
# the older pair, accepted on callbacks for compatibility
TIMESTAMP_HEADER = "X-Siaga-Timestamp"
SIGNATURE_HEADER = "X-Siaga-Signature"
PREFIX = "sha256="


def key_bytes(secret: str) -> bytes:
    if secret.startswith(WHSEC):
        return base64.b64decode(secret[len(WHSEC):])
    return secret.encode()


def whsec(secret: str) -> str:
    """The ``whsec_<base64>`` form of a secret, for a Standard Webhooks library."""
    return secret if secret.startswith(WHSEC) else WHSEC + base64.b64encode(secret.encode()).decode()


def sign_v1(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(key_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def webhook_headers(secret: str, msg_id: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    ts = str(int(now if now is not None else time.time()))
    return {ID_HEADER: msg_id, TS_HEADER: ts, SIG_HEADER: sign_v1(secret, msg_id, ts, body)}


def _fresh(timestamp: str, window_s: int, now: float | None) -> str | None:
    try:
        ts = int(timestamp)
    except ValueError:
        return "bad timestamp"
    current = now if now is not None else time.time()
    if abs(current - ts) > window_s:
        return "timestamp outside the replay window"
    return None


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes, *, window_s: int = 300,
                   now: float | None = None) -> str | None:
    """None when the Standard Webhooks headers are valid, else the reason."""
    msg_id, ts, sigs = headers.get(ID_HEADER), headers.get(TS_HEADER), headers.get(SIG_HEADER)
    if not msg_id or not ts or not sigs:
        return "missing signature headers"
    why = _fresh(ts, window_s, now)
    if why:
        return why
    if not secret:
        return "no secret configured"
    expected = sign_v1(secret, msg_id, ts, body)
    if any(hmac.compare_digest(expected, s) for s in sigs.split()):
        return None
    return "signature mismatch"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The older ``sha256=<hex>`` over ``f"{timestamp}.".encode() + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The older header pair (callbacks of OPD systems written before the change)."""
    ts = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, *,
           window_s: int = 300, now: float | None = None) -> str | None:
    """The older pair: None when valid, else the reason."""
    if not timestamp or not signature:
        return "missing signature headers"
    why = _fresh(timestamp, window_s, now)
    if why:
        return why
    if not secret:
        return "no secret configured"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return "signature mismatch"
    return None


def verify_any(secret: str, hdrs: Mapping[str, str], body: bytes, *, window_s: int = 300) -> str | None:
    """A callback: Standard Webhooks headers, else the older pair."""
    if hdrs.get(SIG_HEADER) is not None:
        return verify_webhook(secret, hdrs, body, window_s=window_s)
    return verify(secret, hdrs.get(TIMESTAMP_HEADER), hdrs.get(SIGNATURE_HEADER), body, window_s=window_s)

"""The SMS fallback encoding: one incident in one signed 160-character SMS.

Why a text line and not JSON: a single GSM-7 SMS holds 160 characters and
the full ``Incident`` JSON is ~400 bytes. The line carries only what the
centre cannot look up itself (the box's place comes from the device
registry), and every character is in the GSM 03.38 basic alphabet, so the
modem sends it in text mode as one part::

    SG1 <device> <id> <seq36> <category> <synced> <mac>

``mac`` is HMAC-SHA256 under the device's own SMS key over everything before
it (``"SG1 ... <synced>"``), truncated to 16 bytes and written in unpadded
base64url (22 characters). Worst case (63-character device id, 2**53 seq,
``security_disturbance``): 152 characters (``WORST_CASE_LEN``).

Replay protection is the receiver's job and uses what the line carries: the
ULID ``id`` is unique forever (an id already taken in by SMS is a replay),
and its first 48 bits are the unit's clock in ms, checked against a time
window when ``synced`` is 1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from protocol.categories import Category
from protocol.errors import ProtocolError
from protocol.ids import DEVICE_ID_PATTERN, ULID_PATTERN

MAGIC = "SG1"
MAC_BYTES = 16  # 128-bit tag: the most that fits the worst case, far past online guessing
MAC_CHARS = 22  # unpadded base64url of 16 bytes
MAX_SMS_CHARS = 160
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_device_re = re.compile(DEVICE_ID_PATTERN)
_ulid_re = re.compile(ULID_PATTERN)
_seq_re = re.compile(r"^[0-9a-z]{1,11}$")
_mac_re = re.compile(r"^[A-Za-z0-9_-]{22}$")


class SmsError(ProtocolError, ValueError):
    """An SMS that is not a valid, authentic fallback message; ``reason`` is
    ``not_fallback`` (some other text), ``truncated``, ``malformed``,
    ``unsigned``, ``forged``, ``unknown_device``, ``replayed`` or ``stale``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FallbackSms:
    device: str
    id: str
    seq: int
    category: Category
    synced: bool

    def body(self) -> str:
        return f"{MAGIC} {self.device} {self.id} {to36(self.seq)} {self.category.value} {int(self.synced)}"

    def created_at(self) -> datetime:
        """The unit's clock when it made the incident (the ULID's time part)."""
        return ulid_time(self.id)


def to36(n: int) -> str:
    if n < 0:
        raise ValueError("seq must not be negative")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS36[r] + out
        if n == 0:
            return out


def ulid_time(ulid: str) -> datetime:
    ms = 0
    for ch in ulid[:10]:
        ms = ms * 32 + _CROCKFORD.index(ch)
    return datetime.fromtimestamp(ms / 1000, UTC)


def mac(key: bytes, body: str) -> str:
    tag = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode("ascii")


def encode(msg: FallbackSms, key: bytes) -> str:
    body = msg.body()
    return f"{body} {mac(key, body)}"


def looks_like_fallback(text: str) -> bool:
    """True for anything that claims to be a unit's SMS (else: a citizen's text)."""
    return text.strip().upper().startswith(MAGIC + " ") or text.strip().upper() == MAGIC


def parse(text: str) -> tuple[FallbackSms, str, str]:
    """``(message, signed body, mac)`` without checking the MAC (the receiver
    needs the device id first to find the key)."""
    fields = text.strip().split(" ")
    if not fields or fields[0].upper() != MAGIC:
        raise SmsError("not_fallback", "not a unit's SMS")
    if len(fields) < 6:
        raise SmsError("truncated", f"{len(fields)} fields, 7 expected")
    if len(fields) == 6:
        raise SmsError("unsigned", "no MAC")
    if len(fields) > 7:
        raise SmsError("malformed", f"{len(fields)} fields, 7 expected")
    _, device, msg_id, seq36, cat, synced, tag = fields
    if not _mac_re.match(tag):
        raise SmsError("truncated" if len(tag) < MAC_CHARS else "malformed", "bad MAC field")
    if not (_device_re.match(device) and _ulid_re.match(msg_id) and _seq_re.match(seq36)
            and synced in ("0", "1")):
        raise SmsError("malformed", "bad field")
    try:
        category = Category(cat)
    except ValueError:
        raise SmsError("malformed", f"unknown category {cat!r}") from None
    msg = FallbackSms(device, msg_id, int(seq36, 36), category, synced == "1")
    return msg, " ".join(fields[:6]), tag


def verify(text: str, key: bytes) -> FallbackSms:
    """Parse and check the MAC (constant time); raises :class:`SmsError`."""
    msg, body, tag = parse(text)
    if not hmac.compare_digest(mac(key, body), tag):
        raise SmsError("forged", "MAC does not match")
    return msg


def worst_case() -> str:
    """The longest line the encoding can produce (for docs and a test)."""
    longest = max(Category, key=lambda c: len(c.value))
    msg = FallbackSms("a" * 63, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 2**53, longest, True)
    return encode(msg, b"k" * 32)


WORST_CASE_LEN = len(worst_case())
assert WORST_CASE_LEN <= MAX_SMS_CHARS, WORST_CASE_LEN


def device_key(master: bytes, device: str) -> bytes:
    """A unit's own SMS key, derived from the site's SMS master secret (HKDF-like
    single HMAC step): the gateway needs no per-unit table, and a key read off
    one stolen SD card signs only as that unit."""
    return hmac.new(master, b"siaga-sms-v1/" + device.encode("ascii"), hashlib.sha256).digest()

"""Signed release metadata: an offline root key delegates to a targets key,
the targets key signs one manifest per release (Ed25519, ``cryptography``).

Why this shape (docs/updates.md has the threat list): the root key never
touches a networked machine and only signs ``root.json`` (which targets keys
are valid, until when, with a version that only goes up, so an old
delegation cannot be replayed after a targets key is rotated out). The
targets manifest binds every file of a release (length and sha256) to its
version and an expiry in one signature: no mix-and-match of files from two
releases, no endless download (lengths are caps), no freeze past the expiry,
no rollback (the unit refuses a version not above the one it runs).

The same code signs (central, on the admin host) and verifies (the unit);
signing happens over a canonical JSON encoding of the ``signed`` part.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from firmware.errors import FirmwareError

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: metadata documents are small; anything bigger is refused while reading
METADATA_MAX_BYTES = 64 * 1024
VERSION_RE = re.compile(r"^\d{1,6}(\.\d{1,6}){0,3}$")
FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
#: the unit's store format level a release writes and reads (firmware/agent/store.py STORE_COMPAT)
DEFAULT_STORE_COMPAT = 1


class UpdateRefused(FirmwareError):
    """A release the unit will not run; ``reason`` is a short code for reports."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_id(pub_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(pub_hex)).hexdigest()[:16]


def parse_version(text: str) -> tuple[int, ...]:
    """``"2.10.1"`` -> ``(2, 10, 1)``; release versions are dotted numbers only."""
    if not isinstance(text, str) or not VERSION_RE.match(text):
        raise UpdateRefused("bad_version", f"versi tidak sah / not a dotted-number version: {text!r}")
    parts = tuple(int(p) for p in text.split("."))
    return parts + (0,) * (4 - len(parts))


def sign_envelope(signed: dict[str, Any], keys: list[Ed25519PrivateKey]) -> dict[str, Any]:
    body = canonical(signed)
    sigs = [{"keyid": key_id(public_hex(k)), "sig": k.sign(body).hex()} for k in keys]
    return {"signed": signed, "signatures": sigs}


def _verify_envelope(raw: bytes, trusted: list[str], threshold: int, kind: str) -> dict[str, Any]:
    # imported here: the agent starts (often, after every power cut) without loading cryptography
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if len(raw) > METADATA_MAX_BYTES:
        raise UpdateRefused("too_big", f"{kind}: {len(raw)} bytes > {METADATA_MAX_BYTES}")
    try:
        env = json.loads(raw)
        signed = env["signed"]
        sigs = env["signatures"]
        if not isinstance(signed, dict) or not isinstance(sigs, list):
            raise TypeError("shape")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UpdateRefused("bad_metadata", f"{kind}: unreadable ({exc})") from None
    if signed.get("_type") != kind:
        raise UpdateRefused("bad_metadata", f"expected {kind}, got {signed.get('_type')!r}")
    body = canonical(signed)
    by_id = {key_id(k): k for k in trusted}
    good: set[str] = set()
    for s in sigs:
        if not isinstance(s, dict) or s.get("keyid") not in by_id or s["keyid"] in good:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(by_id[s["keyid"]])).verify(
                bytes.fromhex(str(s.get("sig", ""))), body)
        except (InvalidSignature, ValueError):
            continue
        good.add(s["keyid"])
    if len(good) < threshold:
        raise UpdateRefused("bad_signature", f"tanda tangan {kind} tidak sah / {kind}: "
                                             f"{len(good)} valid signature(s), {threshold} needed")
    return signed


def _expiry(signed: dict[str, Any], kind: str, now: datetime) -> datetime:
    try:
        exp = datetime.fromisoformat(str(signed["expires"]))
    except (KeyError, ValueError):
        raise UpdateRefused("bad_metadata", f"{kind}: no valid 'expires'") from None
    if exp.tzinfo is None:
        exp = exp.replace(tzinfo=UTC)
    if exp <= now:
        raise UpdateRefused("expired", f"{kind} kedaluwarsa / expired at {exp.isoformat()} (freeze?)")
    return exp


@dataclass(frozen=True, slots=True)
class Root:
    version: int
    targets_keys: list[str]
    threshold: int
    expires: datetime


@dataclass(frozen=True, slots=True)
class FileInfo:
    length: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Targets:
    version: str
    requirement: str
    store_compat: int
    files: dict[str, FileInfo]
    expires: datetime


def verify_root(raw: bytes, root_keys: list[str], *, min_version: int = 0,
                now: datetime | None = None) -> Root:
    """Check ``root.json`` against the root public key(s) pinned on the unit."""
    signed = _verify_envelope(raw, root_keys, 1, "root")
    now = now or datetime.now(UTC)
    exp = _expiry(signed, "root", now)
    try:
        version = int(signed["version"])
        tkeys = [str(k) for k in signed["targets_keys"]]
        threshold = int(signed.get("threshold", 1))
    except (KeyError, TypeError, ValueError):
        raise UpdateRefused("bad_metadata", "root: version/targets_keys missing") from None
    if version < min_version:
        raise UpdateRefused("root_rollback", f"root v{version} older than v{min_version} already seen")
    if threshold < 1 or not tkeys:
        raise UpdateRefused("bad_metadata", "root: no targets key")
    return Root(version, tkeys, threshold, exp)


def verify_targets(raw: bytes, root: Root, *, now: datetime | None = None) -> Targets:
    """Check a release manifest against the targets key(s) the root delegates to."""
    signed = _verify_envelope(raw, root.targets_keys, root.threshold, "targets")
    now = now or datetime.now(UTC)
    exp = _expiry(signed, "targets", now)
    version = str(signed.get("version", ""))
    parse_version(version)
    files: dict[str, FileInfo] = {}
    try:
        for name, info in dict(signed["files"]).items():
            if not FILE_RE.match(name):
                raise UpdateRefused("bad_metadata", f"file name {name!r} not allowed")
            length, digest = int(info["length"]), str(info["sha256"])
            if length < 0 or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise UpdateRefused("bad_metadata", f"{name}: bad length or sha256")
            files[name] = FileInfo(length, digest)
        requirement = str(signed["requirement"])
        store_compat = int(signed.get("store_compat", DEFAULT_STORE_COMPAT))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UpdateRefused("bad_metadata", "targets: files/requirement malformed") from None
    if not files:
        raise UpdateRefused("bad_metadata", "targets: no files")
    return Targets(version, requirement, store_compat, files, exp)

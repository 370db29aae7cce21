"""Mosquitto password-file entries, written without the mosquitto_passwd binary.

Mosquitto 2.x reads ``user:$7$<iterations>$<salt b64>$<hash b64>``: PBKDF2 with
HMAC-SHA512, 101 iterations, a 12-byte salt and a 64-byte key. Generating it
here lets the admin host provision units without the broker installed; a test
checks that a real Mosquitto accepts what we write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

ITERATIONS = 101
SALT_BYTES = 12


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The ``$7$`` hash of ``password`` as Mosquitto 2.x stores it."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, dklen=64)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches a ``$7$`` entry."""
    try:
        _, seven, iters, salt_b64, key_b64 = stored.split("$")
    except ValueError:
        return False
    if seven != "7":
        return False
    key = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt_b64), int(iters), dklen=64
    )
    return hmac.compare_digest(key, base64.b64decode(key_b64))


def new_password() -> str:
    """A random password for a device or service user (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def write_password_file(path: Path, users: dict[str, str], *, broker_user: str | None = None) -> None:
    """Write ``{user: $7$ hash}`` atomically, readable by ``broker_user``'s
    group (0640) when new, keeping owner and mode when it exists."""
    from central.broker.files import write_broker_file

    write_broker_file(path, "".join(f"{u}:{h}\n" for u, h in sorted(users.items())), user=broker_user)


def read_password_file(path: Path) -> dict[str, str]:
    """``{user: hash}`` from a Mosquitto password file (missing file: empty)."""
    if not path.exists():
        return {}
    users = {}
    for line in path.read_text().splitlines():
        if ":" in line and not line.startswith("#"):
            user, _, h = line.partition(":")
            users[user] = h
    return users

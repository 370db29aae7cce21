"""Stable, sortable message ids (ULID) and the device-id rule.

ULIDs sort by creation time, so an outbox or an index ordered by id is also
ordered by age, and two units never collide without coordinating.
"""

import os
import re
import time

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
OPD_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,31}$"

_device_re = re.compile(DEVICE_ID_PATTERN)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A new ULID as its 26-character Crockford base32 string: 48 bits of Unix
    milliseconds, then 80 random bits (the ULID spec; written out here so a
    unit does not load a library, and its import-time metadata lookups, for
    ten lines)."""
    n = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(n >> shift) & 31] for shift in range(125, -1, -5))


def is_device_id(value: str) -> bool:
    """True when ``value`` may be used as a device id (and broker user name)."""
    return bool(_device_re.match(value))

"""Message ids: ULIDs written by protocol.ids, read back by an independent parser."""

from __future__ import annotations

import re
import time

from ulid import ULID

from protocol.ids import ULID_PATTERN, new_id


def test_new_id_is_a_ulid_of_now_that_sorts_by_time():
    before = time.time_ns() // 1_000_000
    first = new_id()
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(ULID_PATTERN, first)
    assert before <= ULID.from_str(first).milliseconds <= after
    deadline = time.monotonic() + 5
    later = new_id()
    while ULID.from_str(later).milliseconds == ULID.from_str(first).milliseconds:  # the next millisecond
        assert time.monotonic() < deadline
        later = new_id()
    assert later > first
    assert len({new_id() for _ in range(10_000)}) == 10_000  # 80 random bits each

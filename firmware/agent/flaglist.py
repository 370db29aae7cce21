"""The panel's copy of the flagged-number list (``FlagList``, retained on
``siaga/v1/dev/{panel}/flags``), kept in the unit's SQLite ``meta`` so it
works offline and after a restart. Older versions are ignored.

A timed flag ends at ``until`` when the unit's clock is synced; with an
unsynced clock it stays lit (a flag only lights an LED, never blocks)."""

from __future__ import annotations

import logging
from typing import Any

from protocol.codec import decode
from protocol.errors import PayloadError
from protocol.reports import FlagList

log = logging.getLogger(__name__)
META_KEY = "flag_list"


class Flags:
    def __init__(self, store: Any, clock: Any) -> None:
        self.store = store
        self.clock = clock
        self.doc = FlagList(version=0)
        raw = store.get_meta(META_KEY)
        if raw:
            try:
                self.doc = decode(FlagList, raw.encode())
            except PayloadError as exc:
                log.error("stored flag list unreadable, starting empty: %s", exc)

    def on_message(self, payload: bytes) -> bool:
        """Take a newer list; False for a refused or older one."""
        try:
            doc = decode(FlagList, payload)
        except PayloadError as exc:
            log.warning("Daftar nomor ditandai ditolak / flag list refused: %s", exc)
            return False
        if doc.version < self.doc.version:
            return False
        self.store.set_meta(META_KEY, doc.model_dump_json(exclude_none=True))
        self.doc = doc
        return True

    def is_flagged(self, number: str | None) -> bool:
        if not number:
            return False
        now = self.clock.now() if self.clock.synced else None
        return any(e.number == number and (e.until is None or now is None or now < e.until)
                   for e in self.doc.numbers)

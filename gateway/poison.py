"""Poison messages: one that kills the ingest twice is dead-lettered.

Why: the gateway PUBACKs a QoS 1 message only after it is stored, so the
broker hands an unfinished message to the restarted gateway. A message that
kills processing every time would restart the gateway forever while nothing
else is stored. So before a batch is processed, its messages' keys (SHA-256
of topic and payload) are committed with an attempt count in a small
transaction of their own, and removed once the batch is acked. A message met
again with an unfinished attempt was in flight when the process died: it is
processed alone (an innocent neighbour is not blamed for a killer in its
batch). One met with :data:`POISON_AFTER` unfinished attempts is stored in
``poison_messages`` for a human, rejected as ``poison`` and PUBACKed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.clock import utcnow
from gateway.store.db import Database
from gateway.store.models import IngestAttempt, PoisonMessage
from protocol.base import MAX_PAYLOAD_BYTES
from protocol.ids import is_device_id

#: unfinished attempts after which a message is dead-lettered
POISON_AFTER = 2


class Raw(Protocol):
    topic: str
    payload: bytes


def message_key(m: Raw) -> str:
    return hashlib.sha256(m.topic.encode("utf-8", "replace") + b"\0" + bytes(m.payload)).hexdigest()


def topic_device(topic: str) -> str | None:
    """The device id in a ``siaga/v1/dev/{id}/...`` topic, if it is one."""
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 and is_device_id(parts[3]) else None


@dataclass
class Triage:
    poison: list[tuple[Raw, int]] = field(default_factory=list)  # (message, unfinished attempts)
    suspects: list[Raw] = field(default_factory=list)  # one unfinished attempt: process alone
    clean: list[Raw] = field(default_factory=list)


class PoisonGuard:
    """Attempt bookkeeping and the dead-letter table of one ingest worker."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._finished: set[str] = set()  # deleted with the next mark (saves a commit)

    def triage(self, batch: list[Raw]) -> Triage:
        keys = {message_key(m) for m in batch} - self._finished
        with self.db.session() as s:
            rows = s.execute(select(IngestAttempt.key, IngestAttempt.attempts)
                             .where(IngestAttempt.key.in_(keys))) if keys else []
            prior = {k: n for k, n in rows}
        t = Triage()
        for m in batch:
            n = 0 if message_key(m) in self._finished else prior.get(message_key(m), 0)
            if n >= POISON_AFTER:
                t.poison.append((m, n))
            elif n:
                t.suspects.append(m)
            else:
                t.clean.append(m)
        return t

    def mark(self, batch: list[Raw]) -> None:
        """Commit one more attempt for each message, before processing it."""
        now = utcnow()
        rows = {message_key(m): dict(key=message_key(m), topic=m.topic[:255], attempts=1,
                                     first_at=now, last_at=now) for m in batch}
        done, self._finished = self._finished - set(rows), set()
        insert = pg_insert if self.db.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(IngestAttempt).values(list(rows.values()))
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "attempts": IngestAttempt.attempts + 1, "last_at": stmt.excluded.last_at})
        with self.db.session() as s:
            if done:
                s.execute(delete(IngestAttempt).where(IngestAttempt.key.in_(done)))
            s.execute(stmt)

    def finished(self, batch: list[Raw]) -> None:
        """These messages are stored and acked: forget their attempts."""
        self._finished.update(message_key(m) for m in batch)

    def flush(self) -> None:
        """Forget the finished attempts now (on a clean stop)."""
        done, self._finished = self._finished, set()
        if done:
            with self.db.session() as s:
                s.execute(delete(IngestAttempt).where(IngestAttempt.key.in_(done)))

    def dead_letter(self, m: Raw, reason: str, attempts: int) -> None:
        """Keep the message for a human and forget its attempts."""
        key = message_key(m)
        payload = bytes(m.payload)
        with self.db.session() as s:
            s.add(PoisonMessage(key=key, topic=m.topic[:255], device_id=topic_device(m.topic),
                                reason=reason, attempts=attempts, size=len(payload),
                                payload=payload[:MAX_PAYLOAD_BYTES], received_at=utcnow()))
            s.execute(delete(IngestAttempt).where(IngestAttempt.key == key))
        self._finished.discard(key)

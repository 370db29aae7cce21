"""Poison messages: one that kills the ingest twice is dead-lettered.

Why: the gateway PUBACKs a QoS 1 message only after it is stored, so the
broker hands an unfinished message to the restarted gateway. A message that
kills processing every time would restart the gateway forever while nothing
else is stored.

How, at no cost in normal operation: the broker marks a re-delivery of a
message it had sent us and got no PUBACK for (MQTT DUP flag). The first
delivery is the first attempt. A re-delivered message is a suspect: its
attempt is committed first (``ingest_attempts``, by SHA-256 of topic and
payload, in a small transaction of its own), then it is processed alone, so
an innocent batch neighbour of a killer is never blamed. A re-delivered
message whose earlier suspect attempt never finished has killed processing
:data:`POISON_AFTER` times: it is stored in ``poison_messages`` for a human,
rejected as ``poison`` and PUBACKed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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


def redelivered(m: Raw) -> bool:
    return bool(getattr(m, "dup", False))


def message_key(m: Raw) -> str:
    return hashlib.sha256(m.topic.encode("utf-8", "replace") + b"\0" + bytes(m.payload)).hexdigest()


def topic_device(topic: str) -> str | None:
    """The device id in a ``siaga/v1/dev/{id}/...`` topic, if it is one."""
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 and is_device_id(parts[3]) else None


@dataclass
class Triage:
    poison: list[tuple[Raw, int]] = field(default_factory=list)  # (message, attempts that died)
    suspects: list[Raw] = field(default_factory=list)  # re-delivered once: process alone
    clean: list[Raw] = field(default_factory=list)


class PoisonGuard:
    """Attempt bookkeeping and the dead-letter table of one ingest worker."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def triage(self, batch: Sequence[Raw]) -> Triage:
        """First deliveries are clean (no database work); re-deliveries are
        suspects, or poison when a suspect attempt of theirs never finished."""
        again = [m for m in batch if redelivered(m)]
        prior: dict[str, int] = {}
        if again:
            keys = {message_key(m) for m in again}
            with self.db.session() as s:
                prior = {k: n for k, n in s.execute(select(IngestAttempt.key, IngestAttempt.attempts)
                                                    .where(IngestAttempt.key.in_(keys)))}
        t = Triage(clean=[m for m in batch if not redelivered(m)])
        for m in again:
            n = 1 + prior.get(message_key(m), 0)  # the first delivery was an attempt too
            if n >= POISON_AFTER:
                t.poison.append((m, n))
            else:
                t.suspects.append(m)
        return t

    def mark(self, m: Raw) -> None:
        """Commit one more attempt for a suspect, before processing it."""
        now = utcnow()
        insert = pg_insert if self.db.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(IngestAttempt).values(key=message_key(m), topic=m.topic[:255], attempts=1,
                                            first_at=now, last_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "attempts": IngestAttempt.attempts + 1, "last_at": stmt.excluded.last_at})
        with self.db.session() as s:
            s.execute(stmt)

    def forget(self, m: Raw) -> None:
        """The suspect is stored: its attempt is finished (before its PUBACK,
        so a re-delivery after a crash is a suspect again, not poison)."""
        with self.db.session() as s:
            s.execute(delete(IngestAttempt).where(IngestAttempt.key == message_key(m)))

    def dead_letter(self, m: Raw, reason: str, attempts: int) -> None:
        """Keep the message for a human and forget its attempts."""
        key = message_key(m)
        payload = bytes(m.payload)
        with self.db.session() as s:
            s.add(PoisonMessage(key=key, topic=m.topic[:255], device_id=topic_device(m.topic),
                                reason=reason, attempts=attempts, size=len(payload),
                                payload=payload[:MAX_PAYLOAD_BYTES], received_at=utcnow()))
            s.execute(delete(IngestAttempt).where(IngestAttempt.key == key))

"""Operations on outbox rows the API exposes (manual re-dispatch)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.clock import utcnow
from gateway.errors import IllegalTransition, NotFound
from gateway.lifecycle import audit
from gateway.store.models import Incident, Outbox


def redispatch(session: Session, outbox_id: str, *, actor: str, via: str = "api") -> Outbox:
    """Put a dead (or delivered) row back in the queue with a fresh attempt
    budget; the earlier attempts stay recorded."""
    row = session.get(Outbox, outbox_id)
    if row is None:
        raise NotFound(outbox_id)
    if row.status == "pending":
        raise IllegalTransition("masih dalam antrean / still pending: it is being retried")
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.lease_owner = row.lease_until = None
    if row.incident_pk is not None:
        inc = session.get(Incident, row.incident_pk)
        if inc is not None:
            audit(session, inc, to=inc.status, from_status=inc.status, event="redispatch",
                  actor=actor, via=via, opd=row.target, note=f"{row.channel} delivery {row.id}")
    return row

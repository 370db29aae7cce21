"""Two gateway instances' dispatchers claim from one outbox on PostgreSQL
(issue 16). A claim never waits for another instance's claim: it skips the
rows that one holds (``FOR UPDATE SKIP LOCKED``) and takes the next due ones.
Waiting could deadlock when the two locked their rows in different orders,
and PostgreSQL sees a deadlock only after ``deadlock_timeout`` (1 s): every
webhook due meanwhile waited that long. (SQLite has one writer at a time:
there a claim waits for the write lock by design.)"""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

from gateway.clock import utcnow
from gateway.dispatch.worker import Dispatcher
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import Outbox
from protocol.ids import new_id
from tests.gateway.support import site_config

NO_BROKER = SimpleNamespace(host="127.0.0.1", port=1)


def test_a_claim_skips_the_rows_another_instance_is_claiming(pg_databases, tmp_path):
    db = Database(pg_databases.new())
    db.migrate()
    cfg = site_config(tmp_path, NO_BROKER)
    now = utcnow()
    ids = [new_id() for _ in range(5)]
    with db.session() as s:
        for i, oid in enumerate(ids):  # due oldest first, in this order
            s.add(Outbox(id=oid, kind="dispatch", channel="webhook", target="damkar", payload="{}",
                         status="pending", attempts=0, next_attempt_at=now - timedelta(seconds=60 - i),
                         created_at=now))
    a, b = (Dispatcher(db, cfg, Metrics(), instance=name) for name in ("gw-a", "gw-b"))
    held = db.new_session()
    try:
        mine = [r.id for r in a._claim_in(held, 2)]  # its transaction stays open: the rows locked
        assert mine == ids[:2]
        got: list[list[str]] = []
        other = threading.Thread(target=lambda: got.append([r.id for r in b.claim(2)]))
        other.start()
        other.join(20)
        assert not other.is_alive(), "the second claim waited for the first one's transaction"
        assert got == [ids[2:4]]  # the next due rows, none of the first claim's
        held.commit()
    finally:
        held.close()
        other.join(30)
        for d in (a, b):
            d._pool.shutdown()
            d._http.close()
    with db.session() as s:
        owners = {o.id: o.lease_owner for o in s.query(Outbox)}
    db.dispose()
    assert owners == {ids[0]: "gw-a", ids[1]: "gw-a", ids[2]: "gw-b", ids[3]: "gw-b", ids[4]: None}

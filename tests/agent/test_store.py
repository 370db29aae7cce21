"""The local store and the outbox logic, on real SQLite files."""

from __future__ import annotations

import sqlite3
import time

import pytest

from firmware.agent.outbox import Outbox
from firmware.agent.store import StorageFull, Store
from protocol.reports import Incident, Source


def _incident(seq: int) -> Incident:
    return Incident(device="box-001", seq=seq, category="fire", source=Source.FIELD_BUTTON, button="fire")


def _fill(store: Store, n: int) -> list[str]:
    return [store.record("incident", "siaga/v1/dev/box-001/incident", _incident).id for _ in range(n)]


def test_wal_full_sync_and_migrations_recorded(tmp_path):
    path = tmp_path / "unit.db"
    s = Store(path)
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert s.logdb.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: event log only
    s.close()
    s = Store(path)  # re-opening applies nothing twice
    rows = s.db.execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall()
    assert rows == [("siaga-unit", "m001_initial"), ("siaga-unit", "m002_command_results"),
                    ("siaga-unit", "m003_sms_fallback")]
    s.close()


def test_record_allocates_seq_in_the_same_transaction(tmp_path):
    s = Store(tmp_path / "unit.db")
    ids = _fill(s, 3)
    seqs = [r["seq"] for r in s.rows("incidents")]
    assert seqs == [1, 2, 3] and [r["id"] for r in s.rows("outbox")] == ids
    # a build that fails rolls back the seq too
    with pytest.raises(ValueError):
        s.record("incident", "t", lambda seq: (_ for _ in ()).throw(ValueError("boom")))
    assert s.record("incident", "t", _incident).seq == 4
    s.close()


def test_full_disk_refuses_non_critical_before_incidents(tmp_path):
    free = {"mb": 50.0}
    s = Store(tmp_path / "unit.db", min_free_mb=100, critical_reserve_mb=5, free_mb=lambda: free["mb"])
    assert s.storage_low
    assert s.log_event("chatty") is False  # the event log is refused first
    _fill(s, 1)  # an incident still goes in
    free["mb"] = 1.0
    s._free_cache = (0.0, -1.0)
    with pytest.raises(StorageFull) as exc:
        _fill(s, 1)
    assert "storage full" in str(exc.value)
    assert s.refused_writes == 2
    assert len(s.rows("incidents")) == 1
    s.close()


def test_prune_removes_only_old_delivered_records(tmp_path):
    s = Store(tmp_path / "unit.db")
    old, new, pending = _fill(s, 3)
    s.mark_delivered([(old, "C-1"), (new, "C-2")])
    s.db.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", [time.time() - 40 * 86400, old])
    s.db.execute("UPDATE incidents SET delivered_at = ? WHERE id = ?", [time.time() - 40 * 86400, old])
    s.db.conn.commit()
    counts = s.prune(30 * 86400)
    assert counts["outbox"] == 1 and counts["incidents"] == 1
    assert {r["id"] for r in s.rows("incidents")} == {new, pending}
    assert s.outbox_depth() == 1
    s.close()


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_outbox_window_order_ack_and_backoff(tmp_path):
    s = Store(tmp_path / "unit.db")
    ids = _fill(s, 25)
    sent: list[str] = []
    clock = FakeClock()
    ob = Outbox(s, lambda item: sent.append(item.id) or True, window=10, ack_timeout_s=5,
                retry_base_s=1, retry_max_s=8, clock=clock)
    assert ob.pump(connected=False) == 0
    assert ob.pump(connected=True) == 10 and sent == ids[:10]
    assert ob.pump(connected=True) == 0  # window full
    ob.on_ack([(i, None) for i in ids[:3]], [])
    assert ob.pump(connected=True) == 3 and sent[10:] == ids[10:13]
    # nothing acked for 5 s: the oldest in flight are resent after a backoff, in order
    clock.t += 5.0
    assert ob.pump(connected=True) == 0  # waiting out the backoff
    clock.t += 2.0
    n = ob.pump(connected=True)
    assert n == 10 and sent[13:] == ids[3:13]
    assert ob.resent == 10
    # a rejected id stops being retried; a disconnect forgets what was in flight
    ob.on_ack([], [(ids[3], "invalid")])
    ob.on_disconnect()
    assert ob.pump(connected=True) == 10 and sent[23] == ids[4]
    assert s.outbox_depth() == 21
    db = sqlite3.connect(tmp_path / "unit.db")
    assert db.execute("SELECT state, error FROM outbox WHERE id = ?", [ids[3]]).fetchone() == \
        ("rejected", "invalid")
    s.close()


def test_backoff_grows_and_is_capped():
    ob = Outbox(None, lambda i: True, retry_base_s=1, retry_max_s=8)  # type: ignore[arg-type]
    for tries, cap in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        vals = [ob.backoff(tries) for _ in range(50)]
        assert all(cap / 2 <= v <= cap for v in vals)
        assert len(set(vals)) > 1  # jitter


def test_resend_wait_is_bounded_after_any_number_of_tries():
    """A unit whose gateway was away for days still re-sends within
    ack_timeout_s + retry_max_s (no float overflow after ~1,000 tries)."""
    ob = Outbox(None, lambda i: True, ack_timeout_s=10, retry_base_s=1,  # type: ignore[arg-type]
                retry_max_s=60)
    for tries in (7, 100, 1_025, 10**6):
        assert 30 <= ob.backoff(tries) <= 60
    assert ob.resend_bound_s() == 70

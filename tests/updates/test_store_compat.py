"""Store compatibility across an update and its rollback (docs/updates.md):
an older agent opens a store a newer version migrated (additive migrations
only) and still delivers what is in its outbox; a store in a newer,
incompatible format is refused rather than misread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.agent.store import STORE_COMPAT, Store, StoreTooNew
from protocol.categories import Category
from protocol.reports import Incident, Location
from protocol.topics import DeviceTopic, device_topic
from tests.agent.support import AgentThread, base_config, wait_for

DEV = "box-001"


def _newer_version_writes(path: Path) -> str:
    """What a newer release does to the store: its own additive migration,
    then an incident in the outbox with the new column set."""
    store = Store(path, min_free_mb=0, critical_reserve_mb=0)
    rec = store.record("incident", device_topic(DEV, DeviceTopic.INCIDENT), lambda seq: Incident(
        device=DEV, seq=seq, category=Category.FIRE, source="field_button", button="fire",
        location=Location(label="Jl. Pahlawan 12")))
    store.close()
    future = Migrations("siaga-unit")

    @future()
    def m001_initial(db: Database) -> None: ...  # already applied: skipped by name

    @future()
    def m002_command_results(db: Database) -> None: ...

    @future()
    def m003_future_priority(db: Database) -> None:
        db.execute("ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
        db.execute("CREATE TABLE future_things (id INTEGER PRIMARY KEY, note TEXT)")

    db = Database(path)
    future.apply(db)
    db.execute("UPDATE outbox SET priority = 9 WHERE id = ?", [rec.id])
    db.conn.commit()
    db.close()
    return rec.id


def test_older_version_reads_and_delivers_what_a_newer_one_wrote(tmp_path: Path, broker: Any,
                                                                  mock_pins: Any, responder: Any) -> None:
    cfg_data = base_config(tmp_path, broker, device_id=DEV)
    inc_id = _newer_version_writes(Path(cfg_data["storage"]["path"]))
    agent = Agent(UnitConfig.model_validate(cfg_data))  # this (older) code, on the newer file
    assert agent.store.outbox_depth() == 1
    run = AgentThread(agent).start()
    try:
        wait_for(lambda: inc_id in responder.stored, 30, what="the newer version's incident delivered")
        wait_for(lambda: agent.store.outbox_depth() == 0, 10, what="acked")
    finally:
        run.stop()


def test_a_store_in_a_newer_incompatible_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unit.db"
    Store(path).close()
    db = Database(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'store_compat'", [str(STORE_COMPAT + 1)])
    db.conn.commit()
    db.close()
    with pytest.raises(StoreTooNew, match="newer than this version reads"):
        Store(path)
    # and the file is left as it was, for the newer version to use again
    assert Database(path).execute("SELECT value FROM meta WHERE key='store_compat'").fetchone()[0] == \
        str(STORE_COMPAT + 1)

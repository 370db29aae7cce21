"""Migration 0003_assignments: cases stored before it keep one assignment
per dispatched OPD, with a status taken from the steps it already had."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from gateway.store.db import Database, alembic_config


def test_existing_assignments_get_their_status(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(db.engine), "0001")
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO incidents (pk, id, category, source, priority, status, received_at, "
                       "updated_at, handoff, escalated) VALUES (1, '01JOLDCASE0000000000000000', 'fire', "
                       "'operator', 1, 'on_scene', '2026-11-01 10:00:00', '2026-11-01 10:09:00', 0, 0)"))
        steps = ((1, "damkar", "10:02", "10:08", None), (2, "dinkes", "10:03", None, "10:09"),
                 (3, "bpbd", None, None, None))
        for pk, opd, ack, scene, res in steps:
            c.execute(text("INSERT INTO assignments (pk, incident_pk, opd, dispatched_at, "
                           "acknowledged_at, on_scene_at, resolved_at) "
                           "VALUES (:pk, 1, :opd, '2026-11-01 10:01:00', :a, :s, :r)"),
                      {"pk": pk, "opd": opd, "a": ack and f"2026-11-01 {ack}:00",
                       "s": scene and f"2026-11-01 {scene}:00", "r": res and f"2026-11-01 {res}:00"})
    db.migrate()
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT opd, status, declined_at, decline_wrong, responder FROM assignments "
                              "ORDER BY pk")).all()
        assert [tuple(r) for r in rows] == [("damkar", "on_scene", None, 0, None),
                                            ("dinkes", "resolved", None, 0, None),
                                            ("bpbd", "dispatched", None, 0, None)]
        assert c.execute(text("SELECT attention FROM incidents")).scalar() is None
        assert c.execute(text("SELECT count(*) FROM escalation_claims")).scalar() == 0
    # and back down, for a rollback of the release
    command.downgrade(alembic_config(db.engine), "0001")
    with db.engine.connect() as c:
        cols = [r[1] for r in c.execute(text("PRAGMA table_info(assignments)"))]
        assert "status" not in cols and "responder" not in cols
    db.dispose()

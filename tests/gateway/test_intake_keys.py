"""The intake's reads and case numbers (issue 16): on PostgreSQL a batch's
reads and its new incidents' keys come in one round trip, and a message that
is not a new case (a re-delivery, a copy inside the batch, an unknown or
disabled unit, another unit's id) takes no key, so case numbers have no gaps.
Both engines."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.store import devices
from gateway.store.db import Database
from gateway.store.models import Incident
from protocol.codec import encode
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import incident, register, site_config

NO_BROKER = SimpleNamespace(host="127.0.0.1", port=1)


@pytest.fixture
def db(migrated_db):
    register(migrated_db, "box-01", "box-02", "box-03")
    with migrated_db.session() as s:
        devices.set_enabled(s, "box-03", False)
    return migrated_db


def msg(m) -> Message:
    return Message(device_topic(m.device, DeviceTopic.INCIDENT), encode(m))


def numbers(db: Database) -> list[int]:
    with db.session() as s:
        return sorted(int(c.rsplit("-", 1)[1]) for c in s.scalars(select(Incident.case_no)))


def test_only_new_cases_take_a_number(tmp_path, db):
    intake = Intake(db, site_config(tmp_path, NO_BROKER), Metrics())
    a, b = incident("box-01", seq=1), incident("box-02", seq=1)
    first = intake.process([msg(a), msg(b)])
    with db.session() as s:
        stored = dict(s.execute(select(Incident.id, Incident.case_no)).all())
    assert first.acks["box-01"].stored[0].case == stored[a.id]
    one, two = numbers(db)
    assert two == one + 1

    stranger = incident("box-01", seq=2)
    spoof = incident("box-02", seq=2)
    spoof_copy = spoof.model_copy(update={"device": "box-01"})  # box-01 reuses box-02's id
    c = incident("box-02", seq=3)
    res = intake.process([
        msg(a),  # a re-delivery: acked as a duplicate with its old case number
        msg(incident("box-03", seq=1)),  # disabled unit: refused
        Message(device_topic("box-09", DeviceTopic.INCIDENT), encode(incident("box-09"))),  # unknown
        msg(stranger), msg(stranger),  # a copy inside the batch: one case
        msg(spoof),
        msg(spoof_copy),  # another unit's id: refused (id_conflict)
        msg(c),
    ])
    acked = {i.id: i for d in res.acks.values() for i in d.stored}
    assert acked[a.id].duplicate and acked[a.id].case == first.acks["box-01"].stored[0].case
    assert [r.reason for r in res.acks["box-01"].rejected] == ["id_conflict"]
    assert res.stored_incidents == 3  # stranger, spoof, c
    assert numbers(db) == [one, two, two + 1, two + 2, two + 3]  # no key lost to the others
    # and in batch order: the case numbers rise as the presses came
    with db.session() as s:
        order = dict(s.execute(select(Incident.id, Incident.pk)).all())
    assert order[stranger.id] < order[spoof.id] < order[c.id]

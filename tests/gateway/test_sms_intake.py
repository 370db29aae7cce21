"""The centre's SMS intake on a real SQLite file: a unit's signed SMS becomes
the case of its own id; forged, replayed, truncated, unsigned, stale and
unknown-device SMS are refused and counted; a citizen's SMS is a report; the
MQTT copy merges into the SMS case (one case)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.clock import utcnow
from gateway.config.models import AutoDispatch
from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.sms.intake import SmsIntake
from gateway.store.db import Database
from gateway.store.models import Incident
from protocol import smsfallback as wire
from protocol.categories import Category
from protocol.codec import encode
from protocol.ids import new_id
from protocol.reports import Location, Source
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import incident, register, site_config

MASTER = "sms-master-secret-for-tests-0123456789"


class _B:  # site_config wants a broker address; nothing connects here
    host, port = "127.0.0.1", 1


@pytest.fixture
def env(tmp_path):
    extra = f"sms:\n  modem: {{url: 'socket://127.0.0.1:1'}}\n  master_key: {{value: '{MASTER}'}}\n"
    cfg = site_config(tmp_path, _B(), extra=extra)
    cfg.routing.auto_dispatch.append(AutoDispatch(categories=[Category.FIRE], sources=[Source.SMS]))
    db = Database(cfg.gateway.database_url)
    db.migrate()
    register(db, "box-a", area="Taman")
    m = Metrics()
    yield SmsIntake(db, cfg, m), Intake(db, cfg, m), db, m
    db.dispose()


def _sms(device="box-a", msg_id=None, seq=7, cat=Category.FIRE, synced=True, master=MASTER) -> str:
    msg = wire.FallbackSms(device, msg_id or new_id(), seq, cat, synced)
    return wire.encode(msg, wire.device_key(master.encode(), device))


def _count(m: Metrics, result: str) -> float:
    return m.sms.labels(result=result)._value.get()


def test_worst_case_fits_one_sms_and_round_trips():
    assert wire.WORST_CASE_LEN == len(wire.worst_case()) <= 160
    key = wire.device_key(b"m", "box-a")
    text = _sms(master="m")
    assert wire.verify(text, key).device == "box-a"
    assert text.isascii() and " " in text


def test_a_signed_sms_becomes_a_dispatched_case_of_its_own_id(env):
    sms, _intake, db, m = env
    text = _sms()
    msg_id = text.split()[2]
    out = sms.handle("+6281100000001", text)
    assert out.result == "accepted" and out.case.startswith("MDN-")
    with db.session() as s:
        inc = s.scalar(select(Incident).where(Incident.id == msg_id))
        assert (inc.source, inc.status, inc.seq, inc.area) == ("sms", "dispatched", 7, "Taman")
        assert [a.opd for a in inc.assignments] == ["damkar"]
        assert inc.transitions[0].via == "sms"
    assert _count(m, "accepted") == 1


@pytest.mark.parametrize("mangle,reason", [
    (lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), "forged"),
    (lambda t: t[:60], "truncated"),
    (lambda t: t[: t.rindex(" ")], "unsigned"),
    (lambda t: t.replace(" fire ", " medical "), "forged"),
    (lambda t: t[:-3], "truncated"),
])
def test_bad_sms_are_refused_and_counted(env, mangle, reason):
    sms, _i, db, m = env
    out = sms.handle("+6281100000001", mangle(_sms()))
    assert out.result == reason
    assert _count(m, reason) == 1 and m.rejected_count(f"sms_{reason}") == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0


def test_replay_wrong_key_unknown_device_and_stale_are_refused(env):
    sms, _i, db, m = env
    text = _sms()
    assert sms.handle("+62811", text).result == "accepted"
    assert sms.handle("+62811", text).result == "replayed"
    assert sms.handle("+62811", _sms(master="another-master-secret-123456")).result == "forged"
    assert sms.handle("+62811", _sms(device="box-zz")).result == "unknown_device"
    old = _sms()
    assert sms.handle("+62811", old, now=utcnow() + timedelta(days=2)).result == "stale"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
    assert _count(m, "replayed") == 1 and _count(m, "stale") == 1


def test_a_citizen_sms_is_a_report_in_the_operators_queue(env):
    sms, _i, db, _m = env
    out = sms.handle("+6285700000001", "Tolong, banjir di Jl. Pahlawan setinggi lutut")
    assert out.result == "report"
    with db.session() as s:
        inc = s.scalar(select(Incident))
        assert (inc.source, inc.status, inc.category, inc.caller) == \
            ("sms", "received", "other", "+6285700000001")
        assert "banjir" in inc.description and inc.device_id is None


def test_the_mqtt_copy_merges_into_the_sms_case(env):
    sms, intake, db, m = env
    msg_id = new_id()
    sms.handle("+62811", _sms(msg_id=msg_id, seq=9))
    full = incident("box-a", seq=9, category="fire", id=msg_id, button="fire",
                    location=Location(label="Jl. Pahlawan 12", area="Taman"))
    topic = device_topic("box-a", DeviceTopic.INCIDENT)
    for _ in range(2):  # a re-send after the merge changes nothing
        res = intake.process([Message(topic, encode(full))])
        item = res.acks["box-a"].stored[0]
        assert item.duplicate and item.case.startswith("MDN-")
    with db.session() as s:
        rows = s.scalars(select(Incident)).all()
        assert len(rows) == 1
        inc = rows[0]
        assert inc.button == "fire" and inc.location_label == "Jl. Pahlawan 12" and inc.source == "sms"
        assert [t.event for t in inc.transitions].count("merged") == 1
    assert _count(m, "merged") == 1
    # the SMS after the MQTT copy (it was slower): harmless, not a new case
    late = new_id()
    intake.process([Message(topic, encode(incident("box-a", seq=10, id=late)))])
    assert sms.handle("+62811", _sms(msg_id=late, seq=10)).result == "already_stored"

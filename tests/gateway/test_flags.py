"""Flagged numbers: N junk calls in M days flag a number; the first flag
expires (injected clock), a repeat is permanent until a supervisor lifts it
with a reason; the list goes to the panels retained."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from gateway import flags
from gateway.config.models import FlagSettings
from gateway.flag_sync import FlagSync
from gateway.store.db import Database
from gateway.store.models import Call
from protocol.codec import decode
from protocol.ids import new_id
from protocol.mqtt import BrokerSettings, connect, make_client
from protocol.reports import FlagList
from tests.gateway.support import api_client, make_user, register, site_config, wait_for

NUM = "+6281299990000"
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CFG = FlagSettings()  # 3 prank/ghost calls in 7 days; first flag 3 days


@pytest.fixture
def db(tmp_path):
    d = Database(f"sqlite:///{tmp_path / 'gw.db'}")
    d.migrate()
    yield d
    d.dispose()


def junk(db: Database, at: datetime, call_type: str = "prank", number: str = NUM) -> list:
    with db.session() as s:
        s.add(Call(id=new_id(), device_id="panel-1", seq=1, direction="incoming", number=number,
                   duration_s=3.0, end_reason="remote_hangup", call_type=call_type, received_at=at))
        return [(f.offence, f.expires_at) for f in flags.evaluate(s, CFG, [number], at)]


def is_flagged(db: Database, at: datetime) -> bool:
    with db.read_session() as s:
        return flags.active_for(s, NUM, at) is not None


def test_first_flag_expires_after_three_days_and_a_repeat_is_permanent(db):
    assert junk(db, T0) == [] and junk(db, T0 + timedelta(hours=1), "ghost") == []
    assert junk(db, T0 + timedelta(hours=2), "test") == []  # test calls do not count
    assert junk(db, T0 + timedelta(hours=3)) == [(1, T0 + timedelta(hours=3, days=3))]
    assert is_flagged(db, T0 + timedelta(days=3, hours=2))
    assert not is_flagged(db, T0 + timedelta(days=3, hours=4))  # the first flag ran out
    # the calls that made the first flag do not count again: three new ones are needed
    later = T0 + timedelta(days=4)
    assert junk(db, later) == [] and junk(db, later + timedelta(minutes=1)) == []
    assert junk(db, later + timedelta(minutes=2)) == [(2, None)]
    assert is_flagged(db, later + timedelta(days=400))
    with db.session() as s:
        with pytest.raises(ValueError):
            flags.lift(s, NUM, by="sup", reason=" ", now=later + timedelta(days=5))
        f = flags.lift(s, NUM, by="sup", reason="nomor dipakai anak, orang tua dihubungi",
                       now=later + timedelta(days=5))
        assert f.lifted_by == "sup"
    assert not is_flagged(db, later + timedelta(days=6))


def test_calls_outside_the_window_do_not_flag(db):
    for d in (0, 4, 8):  # three prank calls, never three within 7 days
        assert junk(db, T0 + timedelta(days=d)) == []


def test_version_grows_with_every_change_including_expiry(db):
    with db.read_session() as s:
        v0 = flags.version(s, T0)
    for m in range(3):
        junk(db, T0 + timedelta(minutes=m))
    with db.read_session() as s:
        v1 = flags.version(s, T0 + timedelta(minutes=5))
        v2 = flags.version(s, T0 + timedelta(days=4))
    assert v0 < v1 < v2


@pytest.fixture
def gw(broker, tmp_path, start_gateway):
    return start_gateway(site_config(tmp_path, broker))


def test_console_typing_flags_the_number_and_a_supervisor_lifts_it(gw):
    op = make_user(gw.db, "op", "operator")
    sup = make_user(gw.db, "sup", "supervisor")
    register(gw.db, "panel-1", profile="panel")
    got: list[FlagList] = []
    watch = BrokerSettings(host=gw.cfg.broker.host, port=gw.cfg.broker.port, session_expiry_s=0)
    sub = make_client("flag-watch", watch)
    sub.on_message = lambda _c, _u, m: got.append(decode(FlagList, m.payload))
    connect(sub, watch, clean_start=True, blocking=True)
    sub.subscribe("siaga/v1/dev/panel-1/flags", qos=1)
    sub.loop_start()
    try:
        with api_client(gw.url, op) as api:
            for _ in range(3):
                # a panel's call record typed prank, as the desk would have it
                ref = api.post("/api/incidents", json={"category": "other", "caller": NUM}).json()["id"]
                with gw.db.session() as s:
                    s.add(Call(id=new_id(), device_id="panel-1", seq=1, direction="incoming", number=NUM,
                               duration_s=3.0, end_reason="remote_hangup", call_type="prank"))
                assert api.post(f"/api/incidents/{ref}/call-type",
                                json={"call_type": "prank"}).status_code == 200
            assert [f["number"] for f in api.get("/api/flags").json()] == [NUM]
            h = api.get(f"/api/callers/{NUM}").json()
            assert h["flagged"] and h["flag_offence"] == 1 and h["flag_until"]
            assert api.post(f"/api/flags/{NUM}/lift", json={"reason": "salah"}).status_code == 403
            assert api.get("/api/export/flags.csv").status_code == 403
        wait_for(lambda: any(NUM in [e.number for e in d.numbers] for d in got), timeout=10)
        with api_client(gw.url, sup) as api:
            assert api.post(f"/api/flags/{NUM}/lift", json={"reason": ""}).status_code == 422
            r = api.post(f"/api/flags/{NUM}/lift", json={"reason": "keluarga sudah ditegur"})
            assert r.status_code == 200 and r.json()["lifted_by"] == "sup"
            assert api.get("/api/flags").json() == []
            rows = list(csv.DictReader(io.StringIO(api.get("/api/export/flags.csv").text)))
            assert rows[0]["number"] == NUM and rows[0]["lift_reason"] == "keluarga sudah ditegur"
        wait_for(lambda: got and got[-1].numbers == [] and got[-1].version > got[0].version, timeout=10)
    finally:
        sub.loop_stop()
        sub.disconnect()


def test_flag_sync_sends_each_panel_the_list_once_per_version(db):
    sent: list[tuple[str, bytes]] = []
    register(db, "panel-1", "panel-2", profile="panel")
    register(db, "box-1")
    for m in range(3):
        junk(db, T0 + timedelta(minutes=m))
    sync = FlagSync(db, lambda t, p: sent.append((t, p)), clock=lambda: T0 + timedelta(hours=1))
    assert sync.sync_once() == 2 and sync.sync_once() == 0
    assert sorted(t for t, _ in sent) == ["siaga/v1/dev/panel-1/flags", "siaga/v1/dev/panel-2/flags"]
    doc = decode(FlagList, sent[0][1])
    assert [e.number for e in doc.numbers] == [NUM] and doc.numbers[0].until is not None
    sync.clock = lambda: T0 + timedelta(days=4)  # expired: a new version, an empty list
    assert sync.sync_once() == 2 and decode(FlagList, sent[-1][1]).numbers == []

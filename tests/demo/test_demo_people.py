"""The demo for people: the scenario's calls come in realistic shares with a
repeat prankster, the simulated operator works under its own account and
only on the scenario's cases, and `--no-operator` leaves every case to the
person at the console."""

from __future__ import annotations

import random
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import select

from central.broker.process import free_port
from gateway.clock import utcnow
from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.runtime import Gateway
from protocol.codec import encode
from protocol.reports import CallEnd, CallRecord, Source
from protocol.topics import DeviceTopic, device_topic
from siaga.demo.operator import OperatorDesk
from siaga.demo.scenario import CALL_MIX, CALLERS, PRANKSTER, PlannedCall, plan_call
from tests.gateway.support import api_client, incident, make_user, register, site_config, wait_for


def test_call_mix_has_realistic_shares_and_one_repeat_prankster():
    rng = random.Random(14)
    calls = [plan_call(rng) for _ in range(5000)]
    for kind, share in CALL_MIX:
        got = sum(c.kind == kind for c in calls) / len(calls)
        assert abs(got - share) < 0.025, (kind, got, share)
    junk = sum(c.kind in ("ghost", "prank", "test", "misdial") for c in calls) / len(calls)
    assert junk > 0.5  # most calls to an Indonesian 112 line are not emergencies
    pranks = [c for c in calls if c.kind == "prank"]
    assert sum(c.number == PRANKSTER for c in pranks) / len(pranks) > 0.7
    # silent and mis-dialled lines never come from the regular callers (they would get flagged)
    others = {c.number for c in calls if c.kind in ("ghost", "misdial", "information", "test")}
    assert not others & set(CALLERS)
    assert all(c.key is None for c in calls if c.kind == "misdial")  # it rings off unanswered
    assert {c.key for c in calls if c.kind == "ghost"} == {"type_ghost"}


@pytest.fixture
def gateway(tmp_path, broker):
    gw = Gateway(site_config(tmp_path, broker, auto_sources="field_button")).start()
    try:
        yield gw
    finally:
        gw.stop()


def _panel_case(gw, seq: int, category: str, caller: str, call_type: str) -> str:
    call = CallRecord(device="panel-1", seq=seq, direction="incoming", number=caller, answer_s=3.0,
                      duration_s=20.0, end_reason=CallEnd.REMOTE_HANGUP, operator="sim1", call_type=call_type)
    inc = incident("panel-1", seq=seq + 1, category=category, source=Source.PANEL_CALL, caller=caller,
                   call_id=call.id, call_type=call_type)
    Intake(gw.db, gw.cfg, Metrics()).process([
        Message(device_topic("panel-1", DeviceTopic.CALL), encode(call)),
        Message(device_topic("panel-1", DeviceTopic.INCIDENT), encode(inc))])
    return inc.id


def test_simulated_operator_takes_only_the_scenarios_cases_under_its_own_account(gateway):
    register(gateway.db, "panel-1", profile="panel")
    person = make_user(gateway.db, "person", "operator")
    make_user(gateway.db, "sim1", "operator")
    with api_client(gateway.url, person) as api:
        typed = api.post("/api/incidents", json={"category": "fire", "caller": "+6281200001",
                                                 "location": {"area": "Taman"}}).json()
    fire = _panel_case(gateway, 1, "fire", CALLERS[0], "emergency")
    info = _panel_case(gateway, 3, "other", "+6281300000001", "emergency")
    test = _panel_case(gateway, 5, "other", "+6281300000002", "emergency")
    visitor = _panel_case(gateway, 7, "fire", "+6281377700000", "emergency")  # rang from the control page
    said = {"+6281300000001": "information", "+6281300000002": "test"}
    placed = {CALLERS[0], *said}
    desk = OperatorDesk(gateway.url, "sim1", "password-sim1", said=lambda n: said.pop(n or "", None),
                        placed=lambda n: n in placed)
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        assert desk.login(http)
        desk.triage(http)
    assert desk.handled == 3
    with api_client(gateway.url, person) as api:
        def case(ref):
            return api.get(f"/api/incidents/{ref}").json()
        mine = case(typed["id"])
        assert mine["status"] == "received"  # the person's own report waits for the person
        assert {t["actor"] for t in mine["timeline"]} == {"person"}
        sent = case(fire)
        assert sent["status"] == "dispatched" and [a["opd"] for a in sent["assignments"]] == ["damkar"]
        assert {t["actor"] for t in sent["timeline"] if t["via"] == "api"} == {"sim1"}
        answered = case(info)
        assert (answered["status"], answered["call_type"]) == ("closed", "information")
        assert answered["timeline"][-1]["actor"] == "sim1"
        assert (case(test)["status"], case(test)["call_type"]) == ("rejected", "test")
        assert case(visitor)["status"] == "received"  # a visitor's own call is the visitor's


def test_no_operator_option_is_offered():
    r = subprocess.run([sys.executable, "-m", "siaga", "demo", "--help"], capture_output=True, text=True,
                       timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "--no-operator" in r.stdout


def test_demo_without_operator_flags_the_repeat_prankster_and_leaves_cases_to_the_person(broker_dir):
    """In-process demo, simulated operator off; the scenario's own loop is
    idle (huge interval) and the test plays the calls: the prankster's three
    prank calls flag the number; an information call waits for the person."""
    from gateway import flags
    from gateway.store.models import Call, Incident, Transition
    from siaga.demo.run import Demo

    demo = Demo(state=broker_dir / "demo", http_port=free_port(), interval_s=1e6, sim_operator=False)
    try:
        demo.start(say=lambda *_: None)
        assert demo.operator is None and demo.sim_login is not None
        assert "--no-operator" in demo.summary() and demo.logins["operator"][0].startswith("demo-operator-")
        panel = next(u for u in demo.units if u.profile == "panel")
        for _ in range(3):
            demo.scenario.call(panel, PlannedCall("prank", PRANKSTER, "cat_prank"))
        demo.scenario.call(panel, PlannedCall("information", "+6281300000009", "cat_other"))

        def read(fn):
            with demo.gateway.db.read_session() as s:
                return fn(s)
        assert wait_for(lambda: read(lambda s: [f.number for f in flags.active(s, utcnow())]),
                        timeout=30) == [PRANKSTER]
        info = wait_for(lambda: read(lambda s: s.scalar(
            select(Incident.status).where(Incident.caller == "+6281300000009"))), timeout=30)
        assert info == "received"  # waits for the person at the console
        ops = read(lambda s: {c.operator for c in s.scalars(select(Call))})
        actors = read(lambda s: {t.actor for t in s.scalars(select(Transition))})
        assert ops == {demo.sim_login[0]}  # the simulation answered the panel, under its own name
        assert demo.sim_login[0] not in actors and demo.logins["operator"][0] not in actors
        assert "ditandai/flagged=1" in demo.progress()
    finally:
        demo.stop()

"""Panel call types and the signed-in operator on the call record (modem
simulator over TCP, mock pins, real broker)."""

from __future__ import annotations

import time

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.agent.panel import call_type_for
from protocol.categories import Category
from protocol.reports import CallRecord, CallType, Incident
from tests.agent.support import AgentThread, base_config, wait_for
from tests.agent.test_panel import CALLER, PANEL, _press, sim  # noqa: F401  (fixture)


def test_key_to_call_type():
    assert call_type_for("type_ghost", Category.OTHER) is CallType.GHOST
    assert call_type_for("cat_prank", Category.PRANK) is CallType.PRANK
    assert call_type_for("cat_medical", Category.MEDICAL) is CallType.EMERGENCY
    assert call_type_for("type_nonsense", Category.OTHER) is CallType.EMERGENCY


def test_ghost_key_types_the_call_and_the_operator_is_on_the_record(
        tmp_path, broker, responder, mock_pins, sim):  # noqa: F811
    simulator, url = sim
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="panel-01", profile="panel", operator="sari",
        modem={"url": url, "watchdog_interval_s": 30}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        simulator.incoming_call(CALLER)
        wait_for(lambda: agent.profile.calls.current is not None, what="ringing seen")
        _press(mock_pins.pin(PANEL["button_answer"]))
        wait_for(lambda: mock_pins.pin(PANEL["led_active"]).state, what="call active")
        _press(mock_pins.pin(PANEL["button_type_ghost"]))  # silent line, typed while on
        wait_for(lambda: responder.of_kind(Incident), what="typed case at the centre")
        time.sleep(0.05)
        simulator.remote_hangup()
        wait_for(lambda: responder.of_kind(CallRecord), what="call record at the centre")
    finally:
        run.stop()
    (inc,) = responder.of_kind(Incident)
    (rec,) = responder.of_kind(CallRecord)
    assert inc.call_type is CallType.GHOST and inc.category == "other" and inc.call_id == rec.id
    assert rec.call_type is CallType.GHOST and rec.operator == "sari"


def test_abandoned_call_is_a_misdial_without_operator(tmp_path, broker, responder, mock_pins, sim):  # noqa: F811
    simulator, url = sim
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="panel-01", profile="panel", operator="sari",
        modem={"url": url, "watchdog_interval_s": 30}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        simulator.incoming_call(CALLER)
        wait_for(lambda: agent.profile.calls.current is not None, what="ringing seen")
        simulator.remote_hangup()
        wait_for(lambda: responder.of_kind(CallRecord), what="call record at the centre")
    finally:
        run.stop()
    (rec,) = responder.of_kind(CallRecord)
    assert rec.end_reason == "abandoned" and rec.call_type is CallType.MISDIAL and rec.operator is None

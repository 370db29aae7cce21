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


def test_flagged_number_lights_the_led_while_it_rings_and_the_call_is_answered(
        tmp_path, broker, responder, mock_pins, sim):  # noqa: F811
    """The gateway's retained FlagList reaches the panel; a flagged caller
    lights led_flagged (a flag never blocks: the call is answered); the list
    is kept in the unit's SQLite for offline use."""
    from datetime import UTC, datetime, timedelta

    from firmware.agent.flaglist import Flags
    from protocol.codec import encode
    from protocol.reports import FlaggedEntry, FlagList
    from protocol.topics import DeviceTopic, device_topic

    simulator, url = sim
    until = datetime.now(UTC) + timedelta(days=3)
    doc = FlagList(version=3, numbers=[FlaggedEntry(number=CALLER, until=until)])
    responder.client.publish(device_topic("panel-01", DeviceTopic.FLAGS), encode(doc), qos=1,
                             retain=True).wait_for_publish(5)
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="panel-01", profile="panel",
        modem={"url": url, "watchdog_interval_s": 30}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    flag_led = mock_pins.pin(PANEL["led_flagged"])
    try:
        run.wait_connected()
        wait_for(lambda: agent.profile.flags.doc.version == 3, what="flag list received")
        simulator.incoming_call(CALLER)
        wait_for(lambda: flag_led.state, what="flag LED lit while ringing")
        _press(mock_pins.pin(PANEL["button_answer"]))
        wait_for(lambda: mock_pins.pin(PANEL["led_active"]).state, what="flagged call answered")
        simulator.remote_hangup()
        wait_for(lambda: responder.of_kind(CallRecord), what="call record at the centre")
        wait_for(lambda: not flag_led.state, what="flag LED off after the call")
        simulator.incoming_call("+6281111111111")
        wait_for(lambda: agent.profile.calls.current is not None, what="second call ringing")
        time.sleep(0.2)
        lit_for_other = flag_led.state
        # an older version never replaces a newer one
        assert not agent.profile.flags.on_message(encode(FlagList(version=2)))
    finally:
        run.stop()
    assert lit_for_other is False
    (rec,) = [r for r in responder.of_kind(CallRecord) if r.number == CALLER]
    assert rec.answer_s is not None
    from firmware.agent.store import Store

    store = Store(cfg.storage.path, min_free_mb=0, critical_reserve_mb=0)
    try:  # offline after a restart: the list is still there
        assert Flags(store, agent.clock).is_flagged(CALLER)
    finally:
        store.close()
    responder.client.publish(device_topic("panel-01", DeviceTopic.FLAGS), b"", qos=1,
                             retain=True).wait_for_publish(5)

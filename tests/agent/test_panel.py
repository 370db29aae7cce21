"""Panel profile: the modem simulator over a real TCP socket, mock pins,
a real broker; call records and incidents checked at the centre side."""

from __future__ import annotations

import sqlite3
import time

import pytest

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from firmware.sim import ModemSimulator
from protocol.reports import CallRecord, Incident, Source
from tests.agent.support import AgentThread, base_config, presses, wait_for

PANEL = DEFAULT_PINS["panel"]
FIELD = DEFAULT_PINS["field"]
CALLER = "+6281234567890"


def _press(pin) -> None:
    pin.drive_low()
    pin.drive_high()


@pytest.fixture
def sim():
    s = ModemSimulator(profile="sim800", ring_interval=0.5)
    url = s.start_tcp()
    try:
        yield s, url
    finally:
        s.stop()


def _panel(tmp_path, broker, url):
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="panel-01", profile="panel",
        modem={"url": url, "watchdog_interval_s": 30}))
    return Agent(cfg)


def test_incoming_answer_talk_remote_hangup_classify(tmp_path, broker, responder, mock_pins, sim):
    simulator, url = sim
    agent = _panel(tmp_path, broker, url)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        assert agent.modem.present
        ring_led = mock_pins.pin(PANEL["led_ring"])
        active_led = mock_pins.pin(PANEL["led_active"])
        t0 = time.monotonic()
        simulator.incoming_call(CALLER)
        wait_for(lambda: agent.profile.calls.current is not None, what="ringing seen")
        wait_for(lambda: len(ring_led.states) > 1, what="ring LED blinking")
        time.sleep(0.4)  # let it ring: answer_s must be at least this
        _press(mock_pins.pin(PANEL["button_answer"]))
        wait_for(lambda: active_led.state, what="call active")
        t_active = time.monotonic()
        time.sleep(0.3)  # talk
        simulator.remote_hangup()
        wait_for(lambda: responder.of_kind(CallRecord), what="call record at the centre")
        t_end = time.monotonic()
        _press(mock_pins.pin(PANEL["button_cat_medical"]))
        wait_for(lambda: responder.of_kind(Incident), what="incident at the centre")
        _press(mock_pins.pin(PANEL["button_cat_fire"]))  # second category: same call, ignored
        wait_for(lambda: presses(agent)["cat_fire"], what="second category handled")
        wait_for(lambda: agent.store.outbox_depth() == 0, what="everything acked")
        ring_off = ring_led.state
    finally:
        run.stop()
    assert ring_off is False
    (rec,) = responder.of_kind(CallRecord)
    assert rec.direction == "incoming" and rec.number == CALLER
    assert rec.end_reason == "remote_hangup"
    assert rec.answer_s is not None and 0.4 <= rec.answer_s <= t_active - t0
    assert 0.3 <= rec.duration_s <= t_end - t0
    assert rec.ring_at is not None and rec.answered_at is not None
    (inc,) = responder.of_kind(Incident)
    assert inc.call_id == rec.id and inc.caller == CALLER
    assert inc.category == "medical" and inc.source is Source.PANEL_CALL
    assert presses(agent)["cat_fire"][0] == ("ignored", None)


def test_abandoned_call_is_recorded_without_answer_time(tmp_path, broker, responder, mock_pins, sim):
    simulator, url = sim
    agent = _panel(tmp_path, broker, url)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        simulator.incoming_call("+62315550001")
        wait_for(lambda: agent.profile.calls.current is not None, what="ringing seen")
        simulator.remote_hangup()  # the caller gives up while it rings
        wait_for(lambda: responder.of_kind(CallRecord), what="call record")
        # classifying the last (abandoned) call still files an incident tied to it
        _press(mock_pins.pin(PANEL["button_cat_prank"]))
        wait_for(lambda: responder.of_kind(Incident), what="incident")
    finally:
        run.stop()
    (rec,) = responder.of_kind(CallRecord)
    assert rec.end_reason == "abandoned" and rec.answer_s is None and rec.duration_s == 0
    (inc,) = responder.of_kind(Incident)
    assert inc.call_id == rec.id and inc.category == "prank"


def test_answer_with_nothing_ringing_is_ignored(tmp_path, broker, mock_pins, sim):
    _simulator, url = sim
    agent = _panel(tmp_path, broker, url)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        _press(mock_pins.pin(PANEL["button_answer"]))
        _press(mock_pins.pin(PANEL["button_cat_medical"]))
        wait_for(lambda: presses(agent)["cat_medical"], what="presses handled")
    finally:
        run.stop()
    assert presses(agent)["answer"][0] == ("ignored", None)
    assert presses(agent)["cat_medical"][0] == ("ignored", None)
    db = sqlite3.connect(agent.cfg.storage.path)
    assert db.execute("SELECT count(*) FROM incidents").fetchone()[0] == 0


def test_field_box_dials_the_centre_after_a_press(tmp_path, broker, responder, mock_pins, sim):
    simulator, url = sim
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, centre_number="+62351112", modem={"url": url, "watchdog_interval_s": 30}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        _press(mock_pins.pin(FIELD["button_fire"]))
        wait_for(lambda: simulator.dialled, what="dialled")
        wait_for(lambda: agent.profile.calls.current is not None, what="outgoing call tracked")
        simulator.remote_answer()
        wait_for(lambda: agent.profile.calls.current.answered_mono is not None, what="answered")
        simulator.remote_hangup()
        wait_for(lambda: responder.of_kind(CallRecord), what="outgoing call record")
        wait_for(lambda: responder.of_kind(Incident), what="incident")
    finally:
        run.stop()
    assert simulator.dialled == ["+62351112"]
    (rec,) = responder.of_kind(CallRecord)
    assert rec.direction == "outgoing" and rec.number == "+62351112" and rec.end_reason == "remote_hangup"
    (inc,) = responder.of_kind(Incident)
    assert inc.call_id == rec.id  # the dial-out is linked to its incident


def test_network_time_from_the_modem_marks_records_synced(tmp_path, broker, responder, mock_pins, sim,
                                                          monkeypatch):
    from datetime import UTC, datetime, timedelta

    import firmware.agent.clock as clock_mod

    monkeypatch.setattr(clock_mod, "TIMESYNC_FLAG", tmp_path / "no-timesyncd")  # as on a box without NTP

    simulator, url = sim
    agent = _panel(tmp_path, broker, url)
    agent.clock.forced = None  # detect: only the modem can sync it here
    nitz = datetime.now(UTC) + timedelta(hours=3)  # a network clock far from ours
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        simulator.set_network_time(nitz)
        wait_for(lambda: agent.clock.synced, what="network time taken")
        simulator.incoming_call("+62315550002")
        wait_for(lambda: agent.profile.calls.current is not None, what="ringing")
        simulator.remote_hangup()
        wait_for(lambda: responder.of_kind(CallRecord), what="call record")
    finally:
        run.stop()
    (rec,) = responder.of_kind(CallRecord)
    assert rec.clock_synced is True
    assert abs((rec.device_time - nitz).total_seconds()) < 600  # the modem's clock, not ours


def test_operator_hangs_up(tmp_path, broker, responder, mock_pins, sim):
    simulator, url = sim
    agent = _panel(tmp_path, broker, url)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        simulator.incoming_call(CALLER)
        wait_for(lambda: agent.profile.calls.current is not None, what="ringing")
        _press(mock_pins.pin(PANEL["button_answer"]))
        wait_for(lambda: agent.profile.calls.current is not None
                 and agent.profile.calls.current.answered_mono is not None, what="answered")
        _press(mock_pins.pin(PANEL["button_hangup"]))
        wait_for(lambda: responder.of_kind(CallRecord), what="call record")
    finally:
        run.stop()
    (rec,) = responder.of_kind(CallRecord)
    assert rec.end_reason == "local_hangup" and rec.answer_s is not None
    assert presses(agent)["hangup"][0][0] == "hung_up"

"""A self-test that can fail (issue 17 item 6): each simulated dead part —
an LED or the buzzer that draws no current (the board model's load-sense
line), a stuck sense line, a held button, no SIM, no network, a dead speaker,
a dead microphone, an implausible clock — fails its own check and only that
one; a healthy box passes. Real agent on mock pins, real modem driver on the
modem simulator, real SQLite."""

from __future__ import annotations

import pytest

from firmware.agent import selftest
from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from firmware.sim import ModemSimulator
from protocol.selftest import SelfTestReport, SelfTestTrigger
from tests.agent.support import base_config

FAST = {"ring_interval": 0.2, "boot_delay": 0.05, "alert_delay": 0.02}


@pytest.fixture
def box(tmp_path, broker, mock_pins):
    """A field box (not connected: the self-test needs no broker) with a SIM800 simulator."""
    sim = ModemSimulator("sim800", **FAST)
    url = sim.start_tcp()
    agent = Agent(UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="box-st", modem={"url": url, "audio_test_s": 0.3,
                                                    "command_timeout_s": 3})))
    agent.modem.start()
    try:
        yield agent, sim, mock_pins
    finally:
        agent.modem.close()
        agent.hw.close()
        agent.store.close()
        sim.stop()


def _run(agent: Agent) -> dict:
    res = agent.health.self_test()
    SelfTestReport.model_validate(res)  # the documented shape (docs/protocol.md)
    return res


def test_a_healthy_box_passes_every_check(box):
    agent, _sim, _pins = box
    res = _run(agent)
    assert res["ok"] is True and res["failed"] == [], res["checks"]
    checks = res["checks"]
    expected = {"button_medical", "button_fire", "button_security", "load_sense", "led_recorded",
                "led_delivered", "led_fault", "buzzer", "modem", "sim", "registration", "signal",
                "speaker", "microphone", "storage", "clock"}
    assert set(checks) == expected
    assert all(c["ok"] is True for c in checks.values()), checks
    assert res["audio"]["tone_dbfs"] - res["audio"]["tone_quiet_dbfs"] >= 20
    assert agent.health.self_test_faults == []
    tel = agent.health.telemetry()
    assert tel.self_test is not None and tel.self_test.ok and tel.self_test.trigger is SelfTestTrigger.COMMAND


@pytest.mark.parametrize("role", ["led_recorded", "led_delivered", "led_fault", "buzzer"])
def test_an_output_that_draws_no_current_fails_by_name(box, role):
    agent, _sim, _pins = box
    agent.hw.board.set_dead(role)
    res = _run(agent)
    assert res["failed"] == [role]
    assert "draws no current" in res["checks"][role]["detail"]
    assert res["outputs"][role] is True  # the pin itself followed: read-back alone would have passed
    assert f"self_test:{role}" in agent.health.faults()
    agent.hw.board.set_dead(role, False)
    assert _run(agent)["ok"] is True and agent.health.self_test_faults == []


def test_a_stuck_sense_line_is_named_and_outputs_are_not_judged(box):
    agent, _sim, _pins = box
    agent.hw.board.stuck = True
    res = _run(agent)
    assert res["failed"] == ["load_sense"]
    assert "not judged" in res["checks"]["led_fault"]["detail"]


def test_a_held_button_fails_its_own_check(box):
    agent, _sim, pins = box
    pins.pin(DEFAULT_PINS["field"]["button_fire"]).drive_low()
    res = _run(agent)
    assert res["failed"] == ["button_fire"]


def test_no_sim_fails_sim_and_registration(box):
    agent, sim, _pins = box
    sim.sim_present = False
    res = _run(agent)
    assert {"sim", "registration"} <= set(res["failed"]) and "modem" not in res["failed"]
    assert res["checks"]["sim"]["detail"] == "SIM tidak siap / SIM not ready"


def test_no_network_fails_registration_only(box):
    agent, sim, _pins = box
    sim.set_registered(False)
    res = _run(agent)
    assert res["failed"] == ["registration"]


def test_a_dead_speaker_fails_the_speaker_only(box):
    agent, sim, _pins = box
    sim.speaker_ok = False
    res = _run(agent)
    assert res["failed"] == ["speaker"]
    assert "tone not heard" in res["checks"]["speaker"]["detail"]
    assert res["checks"]["microphone"]["ok"] is True


def test_a_dead_microphone_fails_the_microphone_and_leaves_the_speaker_unjudged(box):
    agent, sim, _pins = box
    sim.mic_ok = False
    res = _run(agent)
    assert res["failed"] == ["microphone"]
    assert res["checks"]["speaker"]["ok"] is None


def test_a_silent_modem_fails_the_modem_check(box):
    agent, sim, _pins = box
    sim.go_silent(True)
    res = _run(agent)
    assert "modem" in res["failed"]


def test_an_implausible_clock_fails(box, monkeypatch):
    agent, _sim, _pins = box
    from datetime import UTC, datetime

    monkeypatch.setattr(selftest, "CLOCK_FLOOR", datetime(2100, 1, 1, tzinfo=UTC))
    res = _run(agent)
    assert res["failed"] == ["clock"] and "implausible" in res["checks"]["clock"]["detail"]


def test_the_last_result_survives_a_restart(tmp_path, broker, mock_pins):
    cfg = UnitConfig.model_validate(base_config(tmp_path, broker, device_id="box-rs"))
    agent = Agent(cfg)
    agent.hw.board.set_dead("buzzer")
    res = agent.health.self_test(SelfTestTrigger.DAILY)
    assert res["failed"] == ["buzzer"] and res["checks"]["modem"]["ok"] is None  # no modem fitted
    agent.hw.close()
    agent.store.close()
    again = Agent(cfg)
    try:
        summary = again.health.telemetry().self_test
        assert summary is not None and summary.failed == ["buzzer"]
        assert summary.trigger is SelfTestTrigger.DAILY
        assert "self_test:buzzer" in again.health.faults()
    finally:
        again.hw.close()
        again.store.close()


def test_a_panel_reports_what_it_cannot_check_without_failing(tmp_path, broker, mock_pins):
    """No load-sense line on the panel board, no audio loop on SIM7600: not
    checkable is null, never a pass it did not earn and never a failure."""
    sim = ModemSimulator("sim7600", **FAST)
    url = sim.start_tcp()
    agent = Agent(UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="panel-st", profile="panel",
        modem={"url": url, "profile": "sim7600", "audio_test_s": 0.3})))
    agent.modem.start()
    try:
        res = _run(agent)
        assert res["ok"] is True and agent.hw.board is None
        assert "load_sense" not in res["checks"]
        assert "read-back only" in res["checks"]["led_ring"]["detail"]
        assert res["checks"]["speaker"]["ok"] is None and res["checks"]["microphone"]["ok"] is None
    finally:
        agent.modem.close()
        agent.hw.close()
        agent.store.close()
        sim.stop()

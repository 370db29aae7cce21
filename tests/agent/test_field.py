"""Field profile against a real broker, real SQLite and gpiozero's mock pins."""

from __future__ import annotations

import sqlite3

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from protocol.reports import Incident, Source
from tests.agent.support import AgentThread, base_config, presses, wait_for

PINS = DEFAULT_PINS["field"]


def _press(pin) -> None:
    pin.drive_low()
    pin.drive_high()


def test_press_files_one_incident_acked_with_leds_in_order(tmp_path, broker, responder, mock_pins):
    cfg = UnitConfig.model_validate(base_config(tmp_path, broker, centre_number="112"))
    agent = Agent(cfg)
    recorded = mock_pins.pin(PINS["led_recorded"])
    delivered = mock_pins.pin(PINS["led_delivered"])
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        recorded.clear_states()
        delivered.clear_states()
        _press(mock_pins.pin(PINS["button_medical"]))
        wait_for(lambda: delivered.state, what="delivered LED")
        # a second press while the incident is open joins it
        _press(mock_pins.pin(PINS["button_fire"]))
        wait_for(lambda: presses(agent)["fire"], what="second press handled")
        rec_states = [s.state for s in recorded.states]
        del_states = [s.state for s in delivered.states]
    finally:
        run.stop()
    assert run.code == 0
    # recorded lit first, then off when the centre's ack lit delivered
    assert rec_states == [False, True, False]
    assert del_states == [False, True]
    incidents = responder.of_kind(Incident)
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc.category == "medical" and inc.source is Source.FIELD_BUTTON and inc.button == "medical"
    assert inc.location is not None and inc.location.label == "Jl. Pahlawan 12"
    assert inc.device == "box-001" and inc.seq >= 1 and inc.clock_synced is False
    assert presses(agent)["fire"][0] == ("joined", inc.id)
    db = sqlite3.connect(cfg.storage.path)
    rows = db.execute("SELECT id, state, case_no FROM incidents").fetchall()
    assert rows == [(inc.id, "delivered", f"C-{inc.seq}")]
    assert db.execute("SELECT state FROM outbox").fetchall() == [("delivered",)]


def test_every_press_files_when_window_is_zero(tmp_path, broker, responder, mock_pins):
    cfg = UnitConfig.model_validate(base_config(tmp_path, broker, timings={"same_incident_s": 0}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        for _ in range(5):
            _press(mock_pins.pin(PINS["button_security"]))
        wait_for(lambda: len(responder.of_kind(Incident)) == 5, what="5 incidents")
        wait_for(lambda: agent.store.outbox_depth() == 0, what="all acked")
    finally:
        run.stop()
    seqs = [seq for _dev, _id, seq in responder.order]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert {i.category for i in responder.of_kind(Incident)} == {"security_disturbance"}


def test_press_while_broker_down_is_recorded_then_delivered(tmp_path, broker, responder, mock_pins):
    cfg = UnitConfig.model_validate(base_config(tmp_path, broker))
    agent = Agent(cfg)
    recorded = mock_pins.pin(PINS["led_recorded"])
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        broker.stop()
        wait_for(lambda: not agent.link.connected, what="link down")
        _press(mock_pins.pin(PINS["button_medical"]))
        wait_for(lambda: recorded.state, what="recorded LED")
        assert agent.store.outbox_depth() == 1
        broker.start()
        wait_for(lambda: len(responder.of_kind(Incident)) == 1, timeout=30, what="delivered after outage")
        wait_for(lambda: agent.store.outbox_depth() == 0, what="acked")
    finally:
        run.stop()


def test_deliberate_hold_ignores_a_brush_and_files_on_a_hold(tmp_path, broker, mock_pins):
    import time

    cfg = UnitConfig.model_validate(base_config(tmp_path, broker, timings={"hold_s": 0.2}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        pin = mock_pins.pin(PINS["button_fire"])
        _press(pin)  # brushed in passing: not deliberate
        pin.drive_low()
        time.sleep(0.5)  # held past hold_s
        pin.drive_high()
        wait_for(lambda: presses(agent)["fire"], what="held press handled")
    finally:
        run.stop()
    assert [status for status, _ in presses(agent)["fire"]] == ["recorded"]
    db = sqlite3.connect(cfg.storage.path)
    assert db.execute("SELECT count(*) FROM incidents").fetchone()[0] == 1


def test_full_disk_refuses_the_incident_visibly(tmp_path, broker, mock_pins):
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, storage={"path": str(tmp_path / "u.db"), "min_free_mb": 100,
                                   "critical_reserve_mb": 5}))
    agent = Agent(cfg, free_mb=lambda: 1.0)
    fault = mock_pins.pin(PINS["led_fault"])
    recorded = mock_pins.pin(PINS["led_recorded"])
    run = AgentThread(agent).start()
    try:
        _press(mock_pins.pin(PINS["button_medical"]))
        wait_for(lambda: presses(agent)["medical"], what="press handled")
        wait_for(lambda: len(fault.states) > 2, what="fault LED blinking")
    finally:
        run.stop()
    assert presses(agent)["medical"][0] == ("refused", None)
    assert recorded.state is False and agent.store.refused_writes >= 1


def test_unit_with_credentials_from_a_file_on_the_site_acl(tmp_path, secure_broker, mock_pins, caplog):
    """The unit's own user (its device id, password from a file) on the
    generated ACL: everything it publishes and subscribes is allowed."""
    from protocol.codec import decode
    from protocol.fleet import Status
    from protocol.topics import DeviceTopic, device_topic
    from tests.agent.support import Responder

    caplog.set_level("DEBUG")
    secure_broker.add_user("box-sec", "box-sec-password-123")
    secure_broker.reload()
    pw = tmp_path / "broker-password"
    pw.write_text("box-sec-password-123\n")
    responder = Responder(secure_broker, client_id="gw-sec")
    responder.client.username_pw_set("gateway", "gateway-test-pw")
    responder.start()
    cfg = base_config(tmp_path, secure_broker, device_id="box-sec")
    cfg["broker"] |= {"username": "box-sec", "password_file": str(pw)}
    agent = Agent(UnitConfig.model_validate(cfg))
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        _press(mock_pins.pin(PINS["button_medical"]))
        wait_for(lambda: agent.store.outbox_depth() == 0 and presses(agent)["medical"],
                 what="incident acked through the ACL")
    finally:
        run.stop()
        responder.stop()
    assert len(responder.of_kind(Incident)) == 1
    # the broker kept our retained status: we were allowed to write it
    from tests.support.mqtt import TestClient

    viewer = TestClient(secure_broker, "viewer", username="gateway", password="gateway-test-pw").start()
    try:
        viewer.subscribe(device_topic("box-sec", DeviceTopic.STATUS))
        st = decode(Status, viewer.get(timeout=10).payload)
    finally:
        viewer.stop()
    assert st.device == "box-sec" and st.state == "offline" and st.reason == "shutdown"
    assert "box-sec-password-123" not in caplog.text  # the secret is never logged



def test_broker_user_other_than_the_device_id_is_flagged(tmp_path, broker, mock_pins, caplog):
    # the site ACL confines a unit to siaga/v1/dev/<its user>/: another user cannot work
    cfg = base_config(tmp_path, broker, device_id="box-mismatch")
    cfg["broker"] |= {"username": "wrong-user", "password": "wrong-user-password-1"}
    agent = Agent(UnitConfig.model_validate(cfg))
    assert "broker_user_mismatch" in agent.health.faults()
    assert "differs from the device id" in caplog.text
    agent.hw.close()
    agent.store.close()


def test_a_publish_the_acl_refuses_is_a_fault_not_silence(tmp_path, secure_broker, mock_pins, caplog):
    secure_broker.add_user("wrong-user", "wrong-user-password-1")
    secure_broker.reload()
    cfg = base_config(tmp_path, secure_broker, device_id="box-mismatch")
    cfg["broker"] |= {"username": "wrong-user", "password": "wrong-user-password-1"}
    agent = Agent(UnitConfig.model_validate(cfg))
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        _press(mock_pins.pin(PINS["button_medical"]))
        wait_for(lambda: "publish_refused" in agent.health.faults(), what="refusal noticed")
    finally:
        run.stop()
    assert "broker refused a publish" in caplog.text
    assert agent.store.outbox_depth() == 1  # still kept: never marked delivered without an ack

"""Health inputs: faults in telemetry, boot reason in status, systemd notify."""

from __future__ import annotations

import socket

import pytest

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.agent.health import boot_reason
from firmware.agent.store import Store
from firmware.pins import DEFAULT_PINS
from protocol.codec import decode
from protocol.fleet import Status, Telemetry
from protocol.reports import Incident
from protocol.topics import DeviceTopic, device_topic
from tests.agent.support import AgentThread, base_config, wait_for
from tests.support.mqtt import TestClient

PINS = DEFAULT_PINS["field"]
DEV = "box-health"


def _latest(client: TestClient, kind: DeviceTopic, model, pred=lambda m: True, timeout=15.0):
    topic = device_topic(DEV, kind)

    def find():
        try:
            msg = client.get(timeout=0.05)
        except Exception:
            return None
        if msg.topic == topic and msg.payload:
            m = decode(model, msg.payload)
            return m if pred(m) else None
        return None
    return wait_for(find, timeout, what=str(kind))


@pytest.fixture
def central(broker):
    c = TestClient(broker, "central-health").start()
    c.subscribe(f"siaga/v1/dev/{DEV}/#")
    try:
        yield c
    finally:
        c.stop()


def test_faults_in_telemetry_and_one_incident_for_a_stuck_button(tmp_path, broker, central, mock_pins):
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id=DEV, heartbeat_s=5,
        timings={"stuck_after_s": 1}, storage={"path": str(tmp_path / "u.db"), "min_free_mb": 1e12,
                                               "critical_reserve_mb": 0}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        # door closed and mains present: the board's idle state
        mock_pins.pin(PINS["door_tamper"]).drive_low()
        mock_pins.pin(PINS["mains_ok"]).drive_low()
        btn = mock_pins.pin(PINS["button_medical"])
        btn.drive_low()  # and it stays down: vandalised or jammed
        wait_for(lambda: "stuck_button:medical" in agent.health.pin_faults, what="stuck fault")
        mock_pins.pin(PINS["door_tamper"]).drive_high()  # door forced open
        mock_pins.pin(PINS["battery_low"]).drive_low()
        wait_for(lambda: "door_tamper" in agent.health.pin_faults, what="tamper fault")
        wait_for(lambda: "battery_low" in agent.health.pin_faults, what="battery fault")
        agent._next_telemetry = 0.0  # prompt a heartbeat now instead of in 5 s
        tel = _latest(central, DeviceTopic.TELEMETRY, Telemetry,
                      lambda t: {"door_tamper", "stuck_button:medical", "battery_low"} <= set(t.faults))
        fault_led = mock_pins.pin(PINS["led_fault"]).state
        btn.drive_high()
    finally:
        run.stop()
    assert {"stuck_button:medical", "door_tamper", "battery_low", "storage_low",
            "modem_absent"} <= set(tel.faults)
    assert "mains_lost" not in tel.faults
    assert tel.storage_low is True and tel.outbox_depth in (0, 1) and tel.storage_free_mb is not None
    assert fault_led is True
    db = Store(tmp_path / "u.db")
    assert len(db.rows("incidents")) == 1  # one incident, not a stream
    db.close()


def test_status_says_power_restored_after_an_unclean_stop(tmp_path, broker, central, mock_pins):
    cfg = UnitConfig.model_validate(base_config(tmp_path, broker, device_id=DEV))
    s = Store(cfg.storage.path)
    s.set_meta("clean_shutdown", "0")  # the last run died without shutting down...
    s.set_meta("kernel_boot_id", "an-earlier-boot")  # ...and the machine has booted since
    s.close()
    agent = Agent(cfg)
    assert agent.boot_reason == "power_restored"
    run = AgentThread(agent).start()
    try:
        st = _latest(central, DeviceTopic.STATUS, Status, lambda m: m.state == "online")
    finally:
        run.stop()
    assert st.reason == "power_restored" and st.firmware and st.profile == "field"
    # the clean stop left a retained offline status that is not the will
    st = _latest(central, DeviceTopic.STATUS, Status, lambda m: m.state == "offline")
    assert st.reason == "shutdown"


def test_boot_reasons():
    assert boot_reason(None, None, "b1") == "first_start"
    assert boot_reason("1", "b1", "b1") == "restart"
    assert boot_reason("1", "b0", "b1") == "reboot"
    assert boot_reason("0", "b1", "b1") == "agent_crashed"
    assert boot_reason("0", "b0", "b1") == "power_restored"


def test_systemd_ready_and_watchdog(tmp_path, broker, mock_pins, monkeypatch):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    agent = Agent(UnitConfig.model_validate(base_config(tmp_path, broker, device_id=DEV)))
    run = AgentThread(agent).start()
    got: list[str] = []
    try:
        while not ({"READY=1", "WATCHDOG=1"} <= set(got)):
            got.append(sock.recv(1024).decode())
    finally:
        run.stop()
        sock.close()
    assert got.index("READY=1") < got.index("WATCHDOG=1")


def test_modem_absent_box_still_files_incidents(tmp_path, broker, responder, mock_pins):
    cfg = UnitConfig.model_validate(base_config(tmp_path, broker, device_id=DEV, centre_number="112"))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        assert not agent.modem.present and agent.modem.fault == "modem_absent"
        mock_pins.pin(PINS["button_fire"]).drive_low()
        mock_pins.pin(PINS["button_fire"]).drive_high()
        wait_for(lambda: responder.of_kind(Incident), what="incident over MQTT")
    finally:
        run.stop()


def test_daily_self_test_runs_once_a_day_and_reports_faults(tmp_path, broker, mock_pins):
    from datetime import datetime

    agent = Agent(UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id=DEV, self_test_daily_at="03:30")))
    h = agent.health
    assert not h.daily_due(datetime(2026, 11, 23, 3, 29))
    assert h.daily_due(datetime(2026, 11, 23, 3, 30))
    assert not h.daily_due(datetime(2026, 11, 23, 18, 0))  # once a day
    res = h.self_test()
    assert res["ok"] is True and h.self_test_faults == []
    # an LED whose pin does not follow (a broken driver) is a fault in telemetry
    led = agent.hw.leds["delivered"]
    led.on = lambda: None
    res = h.self_test()
    assert res["ok"] is False and "self_test:led_delivered" in h.faults()
    # the day is remembered across a restart
    agent.store.close()
    agent.hw.close()
    again = Agent(UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id=DEV, self_test_daily_at="03:30")))
    assert not again.health.daily_due(datetime(2026, 11, 23, 4, 0))
    assert again.health.daily_due(datetime(2026, 11, 24, 4, 0))
    again.hw.close()
    again.store.close()


def test_a_new_or_cleared_fault_is_reported_at_once(tmp_path, broker, central, mock_pins):
    """Faults do not wait for the heartbeat: with a heartbeat of an hour, a
    door forced open and then shut again each reach the centre promptly."""
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id=DEV, heartbeat_s=3600,
        storage={"path": str(tmp_path / "u.db")}))
    agent = Agent(cfg)
    mock_pins.pin(PINS["door_tamper"]).drive_low()
    mock_pins.pin(PINS["mains_ok"]).drive_low()
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        _latest(central, DeviceTopic.TELEMETRY, Telemetry)  # the one sent at start
        mock_pins.pin(PINS["door_tamper"]).drive_high()  # door forced open
        opened = _latest(central, DeviceTopic.TELEMETRY, Telemetry, lambda t: "door_tamper" in t.faults)
        mock_pins.pin(PINS["door_tamper"]).drive_low()  # shut again
        shut = _latest(central, DeviceTopic.TELEMETRY, Telemetry, lambda t: "door_tamper" not in t.faults)
    finally:
        run.stop()
    assert "door_tamper" in opened.faults and "door_tamper" not in shut.faults
    assert shut.seq > opened.seq

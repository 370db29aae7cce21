"""Unit side of fleet management: desired/reported config and MQTT 5 commands."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from protocol.codec import decode, encode
from protocol.fleet import (
    Command,
    CommandResult,
    DesiredConfig,
    ReportedConfig,
    Status,
    Telemetry,
    UnitSettings,
)
from protocol.reports import Incident
from protocol.topics import DeviceTopic, device_topic
from tests.agent.support import AgentThread, base_config, wait_for
from tests.support.mqtt import TestClient

DEV = "box-fleet"
PINS = DEFAULT_PINS["field"]


def _topic(kind: DeviceTopic) -> str:
    return device_topic(DEV, kind)


@pytest.fixture
def central(broker):
    c = TestClient(broker, "central-test").start()
    c.subscribe(f"siaga/v1/dev/{DEV}/#")
    try:
        yield c
    finally:
        c.stop()


def _agent(tmp_path, broker, **extra) -> Agent:
    return Agent(UnitConfig.model_validate(base_config(tmp_path, broker, device_id=DEV, **extra)))


def _next(central: TestClient, kind: DeviceTopic, model, pred=lambda m: True, timeout: float = 15.0):
    topic = _topic(kind)

    def find():
        while True:
            try:
                msg = central.get(timeout=0.05)
            except Exception:
                return None
            if msg.topic == topic and msg.payload:
                m = decode(model, msg.payload)
                if pred(m):
                    return (m, msg)
    return wait_for(find, timeout, what=f"{kind} message")


def _desired(central: TestClient, version: int, **settings) -> None:
    doc = DesiredConfig(version=version, settings=UnitSettings(**settings))
    central.publish(_topic(DeviceTopic.CONFIG_DESIRED), encode(doc), retain=True)


def test_desired_config_applies_live_persists_and_refuses_stale(tmp_path, broker, central, mock_pins):
    _desired(central, 2, heartbeat_s=5, volume=0, centre_number="+62351112",
             button_categories={"medical": "fire"}, log_level="DEBUG")
    agent = _agent(tmp_path, broker)
    run = AgentThread(agent).start()
    try:
        rep, _ = _next(central, DeviceTopic.CONFIG_REPORTED, ReportedConfig, lambda r: r.version == 2)
        assert rep.refused_version is None and rep.settings.volume == 0
        assert agent.settings.heartbeat_s == 5 and agent.hw.volume == 0
        assert logging.getLogger("firmware").level == logging.DEBUG
        # the button map changed live: "medical" now files a fire incident
        mock_pins.pin(PINS["button_medical"]).drive_low()
        mock_pins.pin(PINS["button_medical"]).drive_high()
        inc, _ = _next(central, DeviceTopic.INCIDENT, Incident)
        assert inc.category == "fire"
        # an older version is refused and said so
        _desired(central, 1, volume=50)
        rep, _ = _next(central, DeviceTopic.CONFIG_REPORTED, ReportedConfig, lambda r: r.refused_version == 1)
        assert rep.version == 2 and "stale" in (rep.error or "")
        # garbage and unknown buttons are refused with the reason
        central.publish(_topic(DeviceTopic.CONFIG_DESIRED), json.dumps(
            {"version": 3, "settings": {"volume": 10}, "colour": "red"}), retain=True)
        rep, _ = _next(central, DeviceTopic.CONFIG_REPORTED, ReportedConfig, lambda r: r.refused_version == 3)
        assert "invalid" in (rep.error or "")
        _desired(central, 4, button_categories={"nope": "fire"})
        rep, _ = _next(central, DeviceTopic.CONFIG_REPORTED, ReportedConfig, lambda r: r.refused_version == 4)
        assert "unknown buttons" in (rep.error or "")
        assert agent.settings.volume == 0
    finally:
        run.stop()
    # restart: the applied version survives in SQLite, the retained v4 is still refused
    _desired(central, 2, heartbeat_s=5, volume=0, centre_number="+62351112",
             button_categories={"medical": "fire"}, log_level="DEBUG")
    agent2 = _agent(tmp_path, broker)
    assert agent2.config_version == 2 and agent2.settings.centre_number == "+62351112"
    run2 = AgentThread(agent2).start()
    try:
        st, _ = _next(central, DeviceTopic.STATUS, Status, lambda s: s.state == "online")
        assert st.reason == "restart"
        tel, _ = _next(central, DeviceTopic.TELEMETRY, Telemetry)
        assert tel.config_version == 2
    finally:
        run2.stop()
        logging.getLogger("firmware").setLevel(logging.NOTSET)


def _command(central: TestClient, name: str, args=None, *, cmd_id: str | None = None,
             expires_at=None, corr: bytes = b"corr-1", response: str | None = None) -> str:
    cmd = Command(name=name, args=args or {}, expires_at=expires_at)
    if cmd_id:
        cmd.id = cmd_id
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = response or f"siaga/v1/dev/{DEV}/cmd/res"
    props.CorrelationData = corr
    central.client.publish(_topic(DeviceTopic.CMD), encode(cmd), qos=1, properties=props)
    return cmd.id


def _result(central: TestClient, cmd_id: str) -> tuple[CommandResult, bytes]:
    res, msg = _next(central, DeviceTopic.CMD_RES, CommandResult, lambda r: r.command_id == cmd_id)
    return res, msg.properties.CorrelationData


def test_commands(tmp_path, broker, central, mock_pins):
    marker = tmp_path / "rebooted"
    agent = _agent(tmp_path, broker, reboot_command=["touch", str(marker)])
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        cid = _command(central, "ping", corr=b"\x01\x02")
        res, corr = _result(central, cid)
        assert res.status == "ok" and res.result["pong"] is True and corr == b"\x01\x02"
        _command(central, "ping", cmd_id=cid)
        dup, _ = _result(central, cid)
        assert dup.status == "duplicate" and dup.result["pong"] is True  # the first outcome, not rerun

        past = datetime.now(UTC) - timedelta(seconds=5)
        cid = _command(central, "reboot", expires_at=past)
        res, _ = _result(central, cid)
        assert res.status == "expired" and not marker.exists()

        cid = _command(central, "format_disk")
        res, _ = _result(central, cid)
        assert res.status == "error" and "unknown command" in res.error

        cid = _command(central, "logs", {"lines": "many"})
        res, _ = _result(central, cid)
        assert res.status == "error" and "lines" in res.error
        cid = _command(central, "ping", {"x": 1})
        assert _result(central, cid)[0].status == "error"

        cid = _command(central, "logs", {"lines": 3})
        res, _ = _result(central, cid)
        assert res.status == "ok" and 1 <= len(res.result["lines"]) <= 3

        cid = _command(central, "self_test")
        res, _ = _result(central, cid)
        r = res.result
        assert res.status == "ok" and r["storage_writable"] is True and r["outbox_depth"] == 0
        assert r["outputs"] == {"led_recorded": True, "led_delivered": True, "led_fault": True,
                                "buzzer": True}
        assert r["modem"]["present"] is False

        cid = _command(central, "set_log_level", {"level": "WARNING"})
        assert _result(central, cid)[0].status == "ok"
        assert logging.getLogger("firmware").level == logging.WARNING

        cid = _command(central, "flush_outbox")
        assert _result(central, cid)[0].result == {"outbox_depth": 0}

        # a response topic outside our branch is not honoured: the default is used
        cid = _command(central, "ping", response="siaga/v1/dev/other-box/cmd/res")
        assert _result(central, cid)[0].status == "ok"

        cid = _command(central, "reboot")
        assert _result(central, cid)[0].status == "ok"
        wait_for(marker.exists, what="injected reboot command ran")

        central.publish(_topic(DeviceTopic.CMD), b"{not json")
        cid = _command(central, "restart_agent")
        assert _result(central, cid)[0].status == "ok"
        run.thread.join(15)
    finally:
        run.stop()
        logging.getLogger("firmware").setLevel(logging.NOTSET)
    assert run.code == 75
    assert agent.fleet.rejected_commands == 1


def test_logs_reply_fits_the_payload_limit(tmp_path, broker, central, mock_pins):
    agent = _agent(tmp_path, broker)
    for i in range(400):
        agent.store.log_event("big", f"{i} " + "x" * 1000)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        cid = _command(central, "logs", {"lines": 500})
        res, _ = _result(central, cid)  # decoding enforces the 64 KiB limit
    finally:
        run.stop()
    assert res.status == "ok" and res.result["truncated"] is True
    lines = res.result["lines"]
    assert 100 < len(lines) < 400 and "big 399 " in lines[-3] and " command " in lines[-1]


def test_modem_reset_and_self_test_with_the_simulated_modem(tmp_path, broker, central, mock_pins):
    from firmware.sim import ModemSimulator

    sim = ModemSimulator(profile="sim800")
    url = sim.start_tcp()
    agent = _agent(tmp_path, broker, modem={"url": url, "watchdog_interval_s": 30})
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        cid = _command(central, "self_test")
        res, _ = _result(central, cid)
        modem = res.result["modem"]
        assert modem["responds"] is True and modem["sim_ready"] is True and modem["registered"] is True
        assert isinstance(modem["signal_dbm"], int) and res.result["ok"] is True
        cid = _command(central, "modem_reset")
        res, _ = _result(central, cid)
        assert res.status == "ok" and res.result == {"modem_present": True}
        cid = _command(central, "ping")
        assert _result(central, cid)[0].status == "ok"
        assert agent.modem.present
    finally:
        run.stop()
        sim.stop()

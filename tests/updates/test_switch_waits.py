"""The switch never happens during a call, nor with undelivered records
when the new version writes a store format the old one could not read back
(docs/updates.md). A panel agent with the modem simulator, a real broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware.agent import bootguard as bg
from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.agent.events import UpdateReady
from firmware.agent.store import STORE_COMPAT
from firmware.agent.updsig import Targets
from firmware.pins import DEFAULT_PINS
from firmware.sim import ModemSimulator
from protocol.reports import CallRecord
from tests.agent.support import AgentThread, Responder, base_config, wait_for

PANEL = DEFAULT_PINS["panel"]


@pytest.fixture
def sim():
    s = ModemSimulator(profile="sim800", ring_interval=0.5)
    url = s.start_tcp()
    try:
        yield s, url
    finally:
        s.stop()


def test_switch_waits_for_the_call_and_for_delivery(tmp_path: Path, broker: Any, mock_pins: Any,
                                                    sim: Any) -> None:
    simulator, url = sim
    upd = tmp_path / "update"
    cfg = UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="panel-01", profile="panel",
        modem={"url": url, "watchdog_interval_s": 30}, updates={"dir": str(upd), "root_keys": ["a" * 64]}))
    agent = Agent(cfg)
    run = AgentThread(agent).start()
    responder = None
    try:
        run.wait_connected()
        simulator.incoming_call("+6281234567890")
        wait_for(lambda: agent.profile.calls.current is not None, what="ringing")
        pin = mock_pins.pin(PANEL["button_answer"])
        pin.drive_low()
        pin.drive_high()
        wait_for(lambda: agent.modem.call_state == "active", what="call active")
        slot = tmp_path / "slot-new"
        slot.mkdir()
        # a verified, installed release whose store format differs (as the updater thread hands it over)
        targets = Targets(version="9.0.0", requirement="siaga112==9.0.0", store_compat=STORE_COMPAT + 1,
                          files={}, expires=datetime.now(UTC) + timedelta(days=1))
        agent.updater.state = {"phase": "installed", "version": "9.0.0"}
        agent.q.put(UpdateReady(targets, slot))
        wait_for(lambda: "call in progress" in (agent.updater.state.get("error") or ""), 10,
                 what="waits: call")
        assert bg.current_target(upd) is None and run.thread.is_alive()
        simulator.remote_hangup()
        # the call record is not delivered (no gateway yet): the incompatible format must wait
        wait_for(lambda: "undelivered" in (agent.updater.state.get("error") or ""), 10, what="waits: outbox")
        assert agent.store.outbox_depth() >= 1 and bg.current_target(upd) is None and run.thread.is_alive()
        responder = Responder(broker).start()
        wait_for(lambda: responder.of_kind(CallRecord), 20, what="call record delivered")
        run.thread.join(30)
        assert run.code == cfg.restart_exit_code  # switched and restarting
        assert bg.current_target(upd) == slot.resolve()
        assert bg.load_state(upd)["phase"] == "switching"
        assert bg.load_state(upd)["previous_version"] == agent.version
    finally:
        if run.thread.is_alive():
            run.stop()
        if responder is not None:
            responder.stop()

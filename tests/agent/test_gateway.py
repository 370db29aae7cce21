"""The agent against the real gateway (in-process, SQLite, demo-mode site on
the test broker): presses and a panel call become cases, acked end to end."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from firmware.sim import ModemSimulator
from gateway.runtime import Gateway
from gateway.store import models
from tests.agent.support import AgentThread, base_config, presses, wait_for
from tests.gateway.support import register, site_config

FIELD = DEFAULT_PINS["field"]
PANEL = DEFAULT_PINS["panel"]


def _press(pin) -> None:
    pin.drive_low()
    pin.drive_high()


def test_field_and_panel_units_against_the_real_gateway(tmp_path, broker, mock_pins):
    gw = Gateway(site_config(tmp_path, broker)).start()
    sim = ModemSimulator(profile="sim800", ring_interval=0.5)
    url = sim.start_tcp()
    try:
        register(gw.db, "box-gw")
        register(gw.db, "panel-gw", profile="panel")
        # one process, one mock pin factory: the field box runs first, then the desk panel
        field = Agent(UnitConfig.model_validate(base_config(
            tmp_path, broker, device_id="box-gw", timings={"same_incident_s": 0})))
        run = AgentThread(field).start()
        try:
            run.wait_connected()
            for _ in range(3):
                _press(mock_pins.pin(FIELD["button_fire"]))
            wait_for(lambda: len(presses(field)["fire"]) == 3 and field.store.outbox_depth() == 0,
                     timeout=30, what="field incidents acked by the gateway")
        finally:
            run.stop()
        panel = Agent(UnitConfig.model_validate(base_config(
            tmp_path, broker, device_id="panel-gw", profile="panel",
            modem={"url": url, "watchdog_interval_s": 30})))
        run = AgentThread(panel).start()
        try:
            run.wait_connected()
            sim.incoming_call("+6281200001111")
            wait_for(lambda: panel.profile.calls.current is not None, what="ringing")
            _press(mock_pins.pin(PANEL["button_answer"]))
            wait_for(lambda: panel.profile.calls.current is not None
                     and panel.profile.calls.current.answered_mono is not None, what="answered")
            sim.remote_hangup()
            wait_for(lambda: panel.profile.calls.last is not None, what="call ended")
            _press(mock_pins.pin(PANEL["button_cat_medical"]))
            wait_for(lambda: presses(panel)["cat_medical"] and panel.store.outbox_depth() == 0,
                     timeout=30, what="panel call + incident acked")
        finally:
            run.stop()
        with gw.db.session() as s:
            stored = s.execute(select(models.Incident.id, models.Incident.case_no, models.Incident.device_id,
                                      models.Incident.seq)).all()
            calls = s.execute(select(models.Call.id)).all()
    finally:
        gw.stop()
        sim.stop()
    box = sqlite3.connect(field.cfg.storage.path)
    unit_rows = box.execute("SELECT id, case_no, state FROM incidents ORDER BY seq").fetchall()
    assert len(unit_rows) == 3 and all(state == "delivered" for _i, _c, state in unit_rows)
    by_id = {row.id: row for row in stored}
    for msg_id, case_no, _state in unit_rows:
        assert by_id[msg_id].case_no == case_no and case_no.startswith("MDN-")
        assert by_id[msg_id].device_id == "box-gw"
    desk = sqlite3.connect(panel.cfg.storage.path)
    (call_id,) = desk.execute("SELECT id FROM calls WHERE state = 'delivered'").fetchone()
    assert (call_id,) in [tuple(c) for c in calls]
    (inc_id,) = desk.execute("SELECT id FROM incidents WHERE state = 'delivered'").fetchone()
    assert inc_id in by_id and len(stored) == 4

"""A field box's dial-out over the simulated GSM network rings the centre's
panel modem, and the call record is linked to the case at the real gateway."""

from __future__ import annotations

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from firmware.sim import ModemSimulator
from firmware.sim.network import GsmNetwork
from gateway.runtime import Gateway
from tests.agent.support import AgentThread, base_config, presses, wait_for
from tests.gateway.support import api_client, make_user, register, site_config

FIELD = DEFAULT_PINS["field"]
BOX_NO, PANEL_NO = "+6281100000001", "+6281100000200"
FAST = {"ring_interval": 0.3, "boot_delay": 0.05, "alert_delay": 0.02}


def test_dial_out_rings_the_panel_and_the_call_record_links_to_the_case(tmp_path, broker, mock_pins):
    net = GsmNetwork(sms_delay_s=0.05, call_delay_s=0.05)
    box_sim = net.attach(BOX_NO, ModemSimulator("sim800", **FAST))
    panel_sim = net.attach(PANEL_NO, ModemSimulator("sim800", **FAST))
    box_url = box_sim.start_tcp()
    panel_sim.start_tcp()
    gw = Gateway(site_config(tmp_path, broker)).start()
    register(gw.db, "box-call")
    agent = Agent(UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="box-call", centre_number=PANEL_NO,
        modem={"url": box_url, "watchdog_interval_s": 30})))
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        pin = mock_pins.pin(FIELD["button_medical"])
        pin.drive_low()
        pin.drive_high()
        wait_for(lambda: panel_sim.call_state == "ringing", what="the panel rings")
        assert panel_sim._call["number"] == BOX_NO
        inc_id = wait_for(lambda: presses(agent)["medical"], what="press")[0][1]
        net.hung_up(PANEL_NO)  # the panel rejects the call (its ATH): the box hears NO CARRIER
        wait_for(lambda: agent.store.outbox_depth() == 0 and agent.store.one("SELECT id FROM calls"),
                 timeout=30, what="incident and call record acked")
        (call_id,) = agent.store.one("SELECT id FROM calls")
        token = make_user(gw.db, "op1", "operator")
        with api_client(gw.url, token) as c:
            detail = wait_for(lambda: (d := c.get(f"/api/incidents/{inc_id}").json()).get("call") and d)
        assert detail["call_id"] == detail["call"]["id"] == call_id
        assert detail["call"]["direction"] == "outgoing" and detail["call"]["number"] == PANEL_NO
    finally:
        run.stop()
        gw.stop()
        box_sim.stop()
        panel_sim.stop()
        net.close()

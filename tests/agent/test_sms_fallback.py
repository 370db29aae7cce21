"""IP down, GSM up: a press reaches the centre as one signed SMS over the
simulated GSM network, becomes a dispatched case, and the MQTT copy merges
into it when the unit's link returns (real broker, real gateway, real SQLite,
real modem drivers on simulators joined by ``firmware.sim.network``)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from firmware.pins import DEFAULT_PINS
from firmware.sim import ModemSimulator
from firmware.sim.network import GsmNetwork
from gateway.config.models import AutoDispatch
from gateway.runtime import Gateway
from gateway.store import models
from protocol import smsfallback as wire
from protocol.categories import Category
from protocol.reports import Source
from tests.agent.proxy import CuttableProxy
from tests.agent.support import AgentThread, base_config, presses, wait_for
from tests.gateway.support import OpdServer, register, site_config

FIELD = DEFAULT_PINS["field"]
BOX_NO, CENTRE_NO = "+6281100000001", "+6281100000112"
MASTER = "sms-master-secret-for-tests-0123456789"
FAST = {"ring_interval": 0.5, "boot_delay": 0.05, "alert_delay": 0.02}


def _sms_site(tmp_path, broker, centre_url: str, hook: str):
    extra = (f"sms:\n  modem: {{url: '{centre_url}', watchdog_interval_s: 30}}\n"
             f"  master_key: {{value: '{MASTER}'}}\n")
    cfg = site_config(tmp_path, broker, hooks={"damkar": hook}, extra=extra)
    cfg.routing.auto_dispatch.append(AutoDispatch(categories=[Category.FIRE], sources=[Source.SMS]))
    return cfg


def test_press_with_ip_down_becomes_one_case_by_sms_then_merges(tmp_path, broker, mock_pins):
    net = GsmNetwork(sms_delay_s=0.3, call_delay_s=0.05)
    box_sim = net.attach(BOX_NO, ModemSimulator("sim800", **FAST))
    centre_sim = net.attach(CENTRE_NO, ModemSimulator("sim800", **FAST))
    box_url, centre_url = box_sim.start_tcp(), centre_sim.start_tcp()
    opd = OpdServer()
    proxy = CuttableProxy(broker.host, broker.port)
    gw = Gateway(_sms_site(tmp_path, broker, centre_url, opd.url)).start()
    key_file = tmp_path / "sms.key"
    key_file.write_text(wire.device_key(MASTER.encode(), "box-sms").hex())
    register(gw.db, "box-sms", area="Taman")
    cfg = base_config(tmp_path, broker, device_id="box-sms",
                      modem={"url": box_url, "watchdog_interval_s": 30},
                      sms_fallback={"numbers": [CENTRE_NO], "key_file": str(key_file), "after_s": 1.0},
                      timings={"same_incident_s": 0})
    cfg["broker"].update(host=proxy.host, port=proxy.port, keepalive_s=6)
    agent = Agent(UnitConfig.model_validate(cfg))
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        proxy.set_cut(True)
        wait_for(lambda: not agent.link.connected, what="link down")
        t0 = time.monotonic()
        pin = mock_pins.pin(FIELD["button_fire"])
        pin.drive_low()
        pin.drive_high()
        wait_for(lambda: presses(agent)["fire"], what="press recorded")
        inc_id = presses(agent)["fire"][0][1]

        def case():
            with gw.db.session() as s:
                return s.scalar(select(models.Incident).where(models.Incident.id == inc_id))

        got = wait_for(case, timeout=30, what="case from the SMS")
        latency = time.monotonic() - t0
        assert got.source == "sms" and got.device_id == "box-sms" and got.category == "fire"
        assert got.status == "dispatched" and got.location_label == "Kotak box-sms"
        wait_for(lambda: opd.bodies(), what="webhook of the SMS case")
        assert opd.bodies()[0]["incident_id"] == inc_id
        assert [e["to"] for e in net.log] == [CENTRE_NO]
        assert agent.store.outbox_depth() == 1  # the MQTT copy still waits
        # the link returns: the outbox delivers, the gateway merges, no second SMS
        proxy.set_cut(False)
        wait_for(lambda: agent.store.outbox_depth() == 0, timeout=40, what="outbox drained")
        merged = case()
        events = [t.event for t in merged.transitions]
        with gw.db.session() as s:
            n = s.scalar(select(func.count()).select_from(models.Incident))
        assert n == 1 and merged.button == "fire" and "merged" in events
        assert len(net.log) == 1 and agent.sms.sent == 1
        assert gw.metrics.sms.labels(result="accepted")._value.get() == 1
        assert gw.metrics.sms.labels(result="merged")._value.get() == 1
        print(f"\nSMS fallback latency press -> case (after_s=1.0, sms delay 0.3 s): {latency:.2f} s")
    finally:
        run.stop()
        gw.stop()
        proxy.close()
        opd.stop()
        box_sim.stop()
        centre_sim.stop()
        net.close()


def test_no_coverage_retries_later_and_still_sends_only_once(tmp_path, broker, mock_pins):
    """The box's modem has no coverage when the SMS is due: the modem refuses,
    the mark is taken back, and the SMS goes once coverage returns; a restart
    of the agent afterwards sends nothing again (the mark is durable)."""
    net = GsmNetwork(sms_delay_s=0.05, call_delay_s=0.05)
    box_sim = net.attach(BOX_NO, ModemSimulator("sim800", **FAST))
    phone = net.phone(CENTRE_NO)  # the centre's number, as a handset that keeps what it gets
    box_url = box_sim.start_tcp()
    key_file = tmp_path / "sms.key"
    key_file.write_text(wire.device_key(MASTER.encode(), "box-nc").hex())
    cfg = base_config(tmp_path, broker, device_id="box-nc",
                      modem={"url": box_url, "watchdog_interval_s": 30},
                      sms_fallback={"numbers": [CENTRE_NO], "key_file": str(key_file), "after_s": 0.5},
                      timings={"same_incident_s": 0})
    cfg["broker"].update(port=1)  # no broker at all: the link never comes up
    net.set_coverage(BOX_NO, False)
    agent = Agent(UnitConfig.model_validate(cfg))
    run = AgentThread(agent).start()
    try:
        wait_for(lambda: not box_sim.registered, what="no coverage")
        pin = mock_pins.pin(FIELD["button_fire"])
        pin.drive_low()
        pin.drive_high()
        wait_for(lambda: agent.sms.failed >= 1, timeout=30, what="the modem refused the SMS")
        assert phone.texts() == []
        net.set_coverage(BOX_NO, True)
        wait_for(lambda: phone.texts(), timeout=40, what="SMS after coverage returned")
        text = phone.texts()[0]
        assert wire.verify(text, bytes.fromhex(key_file.read_text().strip())).device == "box-nc"
    finally:
        run.stop()
    again = Agent(UnitConfig.model_validate(cfg))
    run = AgentThread(again).start()
    try:
        wait_for(lambda: again.modem.present, what="modem up after the restart")
        first = time.monotonic()
        wait_for(lambda: again.sms._next_check > first + 0.5, what="a fallback check after the restart")
        (mark,) = again.store.one("SELECT sms_sent_at FROM incidents")
        assert mark is not None  # durable: nothing is due again
        assert again.store.one("SELECT count(*) FROM incidents WHERE sms_sent_at IS NULL") == (0,)
        assert len(phone.texts()) == 1 and again.sms.sent == 0
    finally:
        run.stop()
        box_sim.stop()
        net.close()

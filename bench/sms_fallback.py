"""SMS fallback latency: press -> case stored at the centre with the box's IP
link cut, over the simulated GSM network (real broker, gateway, SQLite,
modem drivers), and the SMS sizes (typical and worst case).

The latency is ``after_s`` (how long the unit waits for an ack before it
uses SMS) + the modem's AT+CMGS + the network's delay + the centre modem's
+CMTI/AT+CMGR + the intake's commit. The simulated network's delay is a
parameter (real SMS take seconds to minutes); the rest is measured.

    .venv/bin/python bench/sms_fallback.py [--runs 5] [--after 5] [--sms-delay 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from central.broker.process import MosquittoProcess as Broker  # noqa: E402
from testkit.agent import AgentThread, base_config, presses, wait_for  # noqa: E402
from testkit.proxy import CuttableProxy  # noqa: E402

BUTTON_PIN = 27  # field button_fire
BOX_NO, CENTRE_NO = "+6281100000001", "+6281100000112"
MASTER = "bench-sms-master-secret-0123456789"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--after", type=float, default=5.0, help="sms_fallback.after_s")
    ap.add_argument("--sms-delay", type=float, default=2.0, help="simulated network delay per SMS")
    args = ap.parse_args()

    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory
    from sqlalchemy import select

    from central.broker.files import broker_tempdir
    from firmware.agent.agent import Agent
    from firmware.agent.config import UnitConfig
    from firmware.sim import ModemSimulator
    from firmware.sim.network import GsmNetwork
    from gateway.config.models import AutoDispatch
    from gateway.runtime import Gateway
    from gateway.store import models
    from protocol import smsfallback as wire
    from protocol.categories import Category
    from protocol.reports import Source
    from testkit.gateway import register, site_config

    Device.pin_factory = MockFactory()
    tmp = broker_tempdir(prefix="siaga-sms-bench-")  # the broker drops to mosquitto as root
    broker = Broker(tmp / "broker")
    broker.start()
    net = GsmNetwork(sms_delay_s=args.sms_delay)
    box = net.attach(BOX_NO, ModemSimulator("sim800"))
    centre = net.attach(CENTRE_NO, ModemSimulator("sim800"))
    box_url, centre_url = box.start_tcp(), centre.start_tcp()
    extra = f"sms:\n  modem: {{url: '{centre_url}'}}\n  master_key: {{value: '{MASTER}'}}\n"
    cfg = site_config(tmp, broker, extra=extra)
    cfg.routing.auto_dispatch.append(AutoDispatch(categories=[Category.FIRE], sources=[Source.SMS]))
    gw = Gateway(cfg).start()
    register(gw.db, "box-bench", area="Taman")
    key = tmp / "sms.key"
    key.write_text(wire.device_key(MASTER.encode(), "box-bench").hex())
    proxy = CuttableProxy(broker.host, broker.port)
    ucfg = base_config(tmp, broker, device_id="box-bench", modem={"url": box_url},
                       sms_fallback={"numbers": [CENTRE_NO], "key_file": str(key), "after_s": args.after},
                       timings={"same_incident_s": 0})
    ucfg["broker"].update(host=proxy.host, port=proxy.port, keepalive_s=6)
    agent = Agent(UnitConfig.model_validate(ucfg))
    run = AgentThread(agent).start()
    lat: list[float] = []
    try:
        run.wait_connected(30)
        pin = Device.pin_factory.pin(BUTTON_PIN)
        for i in range(args.runs):
            proxy.set_cut(True)
            wait_for(lambda: not agent.link.connected, 30)
            t0 = time.monotonic()
            pin.drive_low()
            pin.drive_high()
            wait_for(lambda n=i + 1: len(presses(agent)["fire"]) >= n, 10)
            inc_id = presses(agent)["fire"][i][1]

            def stored(inc_id: str = inc_id) -> bool:
                with gw.db.session() as s:
                    pk = s.scalar(select(models.Incident.pk).where(models.Incident.id == inc_id))
                    return pk is not None
            wait_for(stored, 120, interval=0.005)
            lat.append(time.monotonic() - t0)
            proxy.set_cut(False)
            wait_for(lambda: agent.link.connected and agent.store.outbox_depth() == 0, 60)
        sizes = [len(e["text"]) for e in net.log]
    finally:
        run.stop()
        gw.stop()
        proxy.close()
        box.stop()
        centre.stop()
        net.close()
        broker.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"SMS fallback press -> case at the centre (IP cut, after_s={args.after}, "
          f"network delay {args.sms_delay} s), {len(lat)} runs: min {min(lat):.2f} s, "
          f"median {statistics.median(lat):.2f} s, max {max(lat):.2f} s; "
          f"beyond after_s + delay: median {statistics.median(lat) - args.after - args.sms_delay:.2f} s")
    print(f"SMS sent: {len(sizes)} for {len(lat)} incidents, {sizes[0] if sizes else 0} chars each "
          f"(device id 'box-bench'); worst case {wire.WORST_CASE_LEN} chars (limit 160)")


if __name__ == "__main__":
    main()

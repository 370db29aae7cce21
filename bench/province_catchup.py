"""How fast a province gateway catches up after a cut bridge. Prints
numbers; asserts nothing.

    .venv/bin/python bench/province_catchup.py [--n 2000] [--cities 2] [--database-url URL]

Real parts: a province broker, ``--cities`` city brokers each bridged to it
(the bridge ``gen-config`` writes; plain TCP here, TLS is the deployment's
choice and costs the bridge, not the gateway), and an in-process province
gateway (``province`` section, SQLite by default). The bridges are cut (the
province broker stopped), ``--n`` cases per city are published at the city
brokers (every city uses the same device ids), the province broker is
started again, and the time until the province database holds every case
once is measured, with the rate and the duplicates the replay brought.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from central.broker.bridge import BridgeConfig  # noqa: E402
from central.broker.files import broker_tempdir  # noqa: E402
from central.broker.process import MosquittoProcess as Broker  # noqa: E402
from gateway.config import parse_config  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from protocol.codec import encode  # noqa: E402
from protocol.mqtt import BrokerSettings, connect, make_client  # noqa: E402
from protocol.reports import Incident, Location, Source  # noqa: E402
from protocol.topics import DeviceTopic, device_topic  # noqa: E402

DEVICES = [f"box-{i:02d}" for i in range(20)]


def publish(broker: Broker, n: int) -> None:
    s = BrokerSettings(host=broker.host, port=broker.port, session_expiry_s=0)
    c = make_client(f"units-{broker.port}", s, max_inflight=1000)
    connect(c, s, clean_start=True, blocking=True)
    c.loop_start()
    infos = []
    for i in range(n):
        dev = DEVICES[i % len(DEVICES)]
        m = Incident(device=dev, seq=i, category="fire", source=Source.FIELD_BUTTON,
                     description="Kebakaran, tombol ditekan", location=Location(area="Taman"))
        infos.append(c.publish(device_topic(dev, DeviceTopic.INCIDENT), encode(m), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="cases per city published while cut")
    ap.add_argument("--cities", type=int, default=2)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--wait", type=float, default=120, help="give up waiting after this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the brokers' folder (logs) and print it")
    args = ap.parse_args()
    work = broker_tempdir(prefix="siaga-bench-province-")
    gw = None
    brokers: list[Broker] = []
    try:
        province = Broker(work / "province")
        province.start()
        brokers.append(province)
        slugs = [f"kota-{chr(97 + i)}" for i in range(args.cities)]
        cities = []
        for c in slugs:
            pw = work / f"{c}.pw"
            pw.write_text("bridge-password-0123456789\n")
            b = Broker(work / c, max_queued_messages=max(100_000, args.n * 2), bridge=BridgeConfig(
                city=c, host=province.host, port=province.port, username=f"bridge-{c}", password_file=pw,
                tls=False, keepalive_s=5, restart_base_s=1, restart_cap_s=2))
            b.start()
            brokers.append(b)
            cities.append(b)
        db = args.database_url or f"sqlite:///{work / 'province.db'}"
        listed = "\n".join(f"    - {{slug: {c}, name: Kota {c[-1].upper()}}}" for c in slugs)
        cfg = parse_config(f"""
mode: demo
site: {{name: Provinsi Uji, case_prefix: SU}}
broker: {{host: {province.host}, port: {province.port}, session_expiry_s: 3600}}
gateway: {{database_url: "{db}", instance_id: bench-province, http: {{host: 127.0.0.1, port: 0}}}}
opds: [{{id: damkar, name: Damkar}}]
province:
  cities:
{listed}
""")
        gw = Gateway(cfg).start()
        time.sleep(3)  # the bridges connect (restart_base_s 1)
        province.stop()
        t = time.perf_counter()
        for b in cities:
            publish(b, args.n)
        print(f"published {args.n} cases in each of {args.cities} cities while cut "
              f"({time.perf_counter() - t:.1f} s)")

        def stored() -> int:
            with gw.db.session() as s:
                return int(s.execute(text("SELECT count(*) FROM incidents")).scalar() or 0)

        want = args.n * args.cities
        load0 = loadavg()
        t0 = time.perf_counter()
        province.start()
        last, last_at = -1, t0
        while stored() < want and time.perf_counter() - t0 < args.wait:
            if stored() != last:
                last, last_at = stored(), time.perf_counter()
            time.sleep(0.2)
        if stored() < want:
            print(f"INCOMPLETE: {stored()} of {want} after {args.wait:.0f} s; the count last moved "
                  f"{last_at - t0:.1f} s after the broker came back")
        dt = time.perf_counter() - t0
        got = stored()
        with gw.db.session() as s:
            distinct = s.execute(text("SELECT count(DISTINCT id) FROM incidents")).scalar()
            per_city = dict(s.execute(text("SELECT city, count(*) FROM incidents GROUP BY city")).all())
        dups = gw.metrics.duplicates.labels(kind="incident")._value.get()
        print(f"province broker back -> {got}/{want} cases stored ({distinct} distinct) in {dt:.1f} s "
              f"= {got / dt:.0f} cases/s; per city {per_city}; duplicates from the replay {dups:.0f}")
        print(f"load average before / after: {load0} / {loadavg()} (cpus: {os.cpu_count()})")
    finally:
        if gw is not None:
            gw.stop()
        for b in brokers:
            b.kill()
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

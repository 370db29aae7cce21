"""After a batch of hostile payloads (issue 21), how soon is a valid incident
stored and acked? Prints numbers; asserts nothing.

    .venv/bin/python bench/hostile_ingest.py [--rounds 5]

For incident and telemetry topics: publish every hostile payload of
``tests/support/hostile.py`` (20 KB and 80 KB nesting, UTF-16/32, BOM,
truncated, non-finite and huge numbers, coerced types, extreme dates, no
id), then one valid incident, and time publish -> the gateway's Ack with its
id in ``stored``. The target is under 1 s.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from central.broker.files import broker_tempdir  # noqa: E402
from central.broker.process import MosquittoProcess as Broker  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from protocol.codec import decode, encode  # noqa: E402
from protocol.reports import Ack  # noqa: E402
from protocol.topics import DeviceTopic, device_topic  # noqa: E402
from testkit import hostile  # noqa: E402
from testkit.gateway import incident, register, site_config  # noqa: E402
from testkit.mqtt import TestClient  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    tmp = broker_tempdir(prefix="siaga-bench-")  # the broker drops to mosquitto as root
    broker = Broker(tmp / "broker")
    broker.start()
    try:
        gw = Gateway(site_config(tmp, broker, instance="bench"), http=False).start()
        register(gw.db, "box-b")
        unit = TestClient(broker, "box-b").start()
        unit.subscribe(device_topic("box-b", DeviceTopic.ACK))
        seq = 0
        for kind in (DeviceTopic.INCIDENT, DeviceTopic.TELEMETRY):
            bad = hostile.payloads(kind, "box-b")
            qos = 1 if kind is DeviceTopic.INCIDENT else 0
            times = []
            for _ in range(args.rounds):
                for payload, _reason in bad:
                    unit.publish(device_topic("box-b", kind), payload, qos=qos)
                seq += 1
                good = incident("box-b", seq=seq)
                sent = time.monotonic()
                unit.publish(device_topic("box-b", DeviceTopic.INCIDENT), encode(good))
                while good.id not in [i.id for i in decode(Ack, unit.get(timeout=30).payload).stored]:
                    pass
                times.append((time.monotonic() - sent) * 1000)
            print(f"{kind.value:9} {len(bad)} hostile payloads, then a valid incident acked in "
                  f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms ({args.rounds} rounds)")
        print(f"worker alive: {gw.alive()}; rejected: "
              + ", ".join(f"{r}={gw.metrics.rejected_count(r):.0f}"
                          for r in ("too_deep", "too_large", "malformed_json", "non_finite", "out_of_range",
                                    "invalid", "missing_id", "internal_error")))
        unit.stop()
        gw.stop()
    finally:
        broker.kill()


if __name__ == "__main__":
    main()

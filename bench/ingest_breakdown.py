"""Where a single case's publish -> ack time goes, next to the raw broker
round trip measured in the same run. Prints numbers; asserts nothing.

    .venv/bin/python bench/ingest_breakdown.py [--n 300] [--gap-ms 20] [--database-url URL]

One unit publishes fire incidents one at a time (a quiet gateway: the
issue's single-case target is publish -> ack p99 <= 10 x the raw round-trip
p99). The in-process gateway's stages are timed by wrapping its own methods:
broker -> the gateway's MQTT callback, its queue, ``Intake.process`` (write
lock, SQL, commit), the ack publish, and broker -> the unit. Fire is
auto-dispatched to a real HTTP server, so the dispatcher competes for the
write lock as in production.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gateway_ingest import client, payloads, pct, subscribe  # noqa: E402

from central.broker.files import broker_tempdir  # noqa: E402
from central.broker.process import MosquittoProcess as Broker  # noqa: E402
from gateway import ingest as ingest_mod  # noqa: E402
from gateway.intake import payload_id  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from protocol.codec import decode  # noqa: E402
from protocol.reports import Ack  # noqa: E402
from testkit.gateway import OpdServer, register, site_config  # noqa: E402

STAGES = ("broker -> gateway callback", "gateway queue wait", "Intake.process (lock+SQL+commit)",
          "  of which: write-lock wait", "commit -> ack published", "ack publish -> unit")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    tmp = broker_tempdir(prefix="siaga-brk-")
    broker = Broker(tmp / "broker")
    broker.start()
    opd = OpdServer()
    marks: dict[str, dict[str, float]] = {}
    lock = threading.Lock()

    def mark(mid: str, name: str) -> None:
        with lock:
            marks.setdefault(mid, {}).setdefault(name, time.perf_counter())

    orig_on_message = ingest_mod.MqttIngest._on_message
    orig_send = ingest_mod.MqttIngest._send_acks

    def on_message(self, c, u, msg):
        if msg.topic.endswith("/incident"):
            mark(payload_id(msg.payload) or "", "recv")
        return orig_on_message(self, c, u, msg)

    def send_acks(self, result):
        for a in result.acks.values():
            for item in a.stored:
                mark(item.id, "committed")
        orig_send(self, result)
        for a in result.acks.values():
            for item in a.stored:
                mark(item.id, "ack_sent")

    ingest_mod.MqttIngest._on_message = on_message
    ingest_mod.MqttIngest._send_acks = send_acks
    try:
        cfg = site_config(tmp, broker, hooks={"damkar": opd.url}, instance="brk",
                          db_url=args.database_url)
        gw = Gateway(cfg, http=False).start()
        from gateway_ingest import DEVICES

        register(gw.db, *DEVICES)
        orig_process = gw.ingest.intake.process
        db_lock = gw.db._lock

        def process(batch):
            for m in batch:
                mark(payload_id(m.payload) or "", "process")
            t0 = time.perf_counter()
            if db_lock is not None:  # how long the intake waits for the write lock now (SQLite)
                db_lock.acquire(urgent=True)
                db_lock.release()
            waited = time.perf_counter() - t0
            for m in batch:
                with lock:
                    marks.setdefault(payload_id(m.payload) or "", {})["lock_wait"] = waited
            return orig_process(batch)

        gw.ingest.intake.process = process

        def on_ack(_c, _u, msg):
            for item in decode(Ack, msg.payload).stored:
                mark(item.id, "acked")

        unit = client(broker, "brk-units", on_ack)
        subscribe(unit, "siaga/v1/dev/+/ack")
        pub = client(broker, "brk-pub")
        got = threading.Event()
        rtt_c = client(broker, "brk-rtt", lambda *_a: got.set())
        subscribe(rtt_c, "bench/rtt")
        rtt, sent = [], {}
        for topic, payload, mid in payloads(args.n, category="fire"):
            got.clear()
            t0 = time.perf_counter()
            rtt_c.publish("bench/rtt", payload, qos=1)
            got.wait(5)
            rtt.append((time.perf_counter() - t0) * 1000)
            time.sleep(args.gap_ms / 2000)
            sent[mid] = time.perf_counter()
            pub.publish(topic, payload, qos=1)
            time.sleep(args.gap_ms / 1000)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum("acked" in marks.get(m, {}) for m in sent) < len(sent):
            time.sleep(0.05)
        gw.stop()
    finally:
        opd.stop()
        broker.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = {s: [] for s in STAGES}
    total = []
    for mid, t_pub in sent.items():
        m = marks.get(mid, {})
        if not {"recv", "process", "committed", "ack_sent", "acked"} <= m.keys():
            continue
        total.append((m["acked"] - t_pub) * 1000)
        rows[STAGES[0]].append((m["recv"] - t_pub) * 1000)
        rows[STAGES[1]].append((m["process"] - m["recv"]) * 1000)
        rows[STAGES[2]].append((m["committed"] - m["process"]) * 1000)
        rows[STAGES[3]].append(m.get("lock_wait", 0.0) * 1000)
        rows[STAGES[4]].append((m["ack_sent"] - m["committed"]) * 1000)
        rows[STAGES[5]].append((m["acked"] - m["ack_sent"]) * 1000)
    db = cfg.gateway.database_url.split(":")[0]
    print(f"{len(total)}/{len(sent)} single fire incidents, one every {args.gap_ms:g} ms, {db}")
    for name, v in (("raw broker round trip", rtt), ("publish -> ack at unit", total), *rows.items()):
        if v:
            print(f"  {name:34} p50 {statistics.median(v):7.2f} ms  p99 {pct(v, 99):7.2f} ms")
    if rtt and total:
        print(f"  ratio publish->ack p99 / raw round trip p99: {pct(total, 99) / pct(rtt, 99):.1f} x "
              f"(target <= 10 x)")


if __name__ == "__main__":
    main()

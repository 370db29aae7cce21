"""Gateway benchmark: ingest throughput against raw broker throughput, and
single-case latency against the raw broker round trip. Prints numbers;
asserts nothing.

    .venv/bin/python bench/gateway_ingest.py [--n 5000] [--latency-n 300]

Issue 16's single-case figure (publish -> Ack p99 <= 10 x the raw round-trip
p99 of the same run, quiet machine): the "latency" block's last line, e.g.

    .venv/bin/python bench/gateway_ingest.py --n 2000 --latency-n 500
    .venv/bin/python bench/ingest_breakdown.py --n 500   # where the time goes

1. raw broker: N QoS 1 incident payloads (~400 B) published by one client,
   received by one plain subscriber (what Mosquitto + paho can move); the
   publisher runs in its own process in both runs (its own GIL);
2. gateway: N fresh incidents of the same shape published the same way,
   counted when the unit side has received the gateway's end-to-end ack
   (so: validated, committed with synchronous=FULL, acked);
3. latency: fire incidents published one at a time at a steady pace, each
   after one raw broker round trip (the same payload to a plain subscriber);
   time from publish to the unit's Ack and to the signed webhook POST
   arriving at a real HTTP server standing in for Damkar (p50/p99), and the
   ratio of the Ack's p99 to the raw round trip's.
On a shared machine the p99s are noise: give the load average with them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from central.broker.process import MosquittoProcess as Broker  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from protocol.codec import decode, encode  # noqa: E402
from protocol.mqtt import BrokerSettings, connect, make_client  # noqa: E402
from protocol.reports import Ack, Incident, Location, Source  # noqa: E402
from protocol.topics import DeviceTopic, device_topic  # noqa: E402
from testkit.gateway import OpdServer, register, site_config  # noqa: E402

DEVICES = [f"box-{i:03d}" for i in range(20)]


def payloads(n: int, category: str = "other") -> list[tuple[str, bytes, str]]:
    out = []
    for i in range(n):
        dev = DEVICES[i % len(DEVICES)]
        m = Incident(device=dev, seq=i, category=category, source=Source.FIELD_BUTTON,
                     description="Laporan warga dari kotak panggil, tombol ditekan " + "x" * 120,
                     location=Location(lat=-7.63, lon=111.52, label="Jl. Pahlawan 12", area="Taman"))
        out.append((device_topic(dev, DeviceTopic.INCIDENT), encode(m), m.id))
    return out


class Counter:
    def __init__(self, target: int) -> None:
        self.n = 0
        self.target = target
        self.done = threading.Event()
        self.lock = threading.Lock()

    def add(self, k: int = 1) -> None:
        with self.lock:
            self.n += k
            if self.n >= self.target:
                self.done.set()


def client(broker: Broker, cid: str, on_message=None):
    s = BrokerSettings(host=broker.host, port=broker.port, session_expiry_s=0)
    c = make_client(cid, s, max_inflight=1000)
    ready = threading.Event()
    c.on_connect = lambda *_a: ready.set()
    if on_message:
        c.on_message = on_message
    connect(c, s, clean_start=True)
    c.loop_start()
    if not ready.wait(10):
        raise RuntimeError("no connection")
    return c


def subscribe(c, topic: str) -> None:
    done = threading.Event()
    c.on_subscribe = lambda *_a: done.set()
    c.subscribe(topic, 1)
    done.wait(5)


def publish_all(pub, msgs) -> float:
    t0 = time.perf_counter()
    infos = [pub.publish(t, p, qos=1) for t, p, _ in msgs]
    for i in infos:
        i.wait_for_publish(60)
    return t0


def _publisher_proc(host: str, port: int, msgs: list[tuple[str, bytes, str]], start, out) -> None:
    """Runs in its own process (its own GIL): connect, wait for the go, publish."""
    c = client(SimpleNamespace(host=host, port=port), "bench-proc-pub")
    start.wait()
    t0 = time.perf_counter()
    infos = [c.publish(t, p, qos=1) for t, p, _ in msgs]
    for i in infos:
        i.wait_for_publish(120)
    out.put(time.perf_counter() - t0)
    c.disconnect()
    c.loop_stop()


def publish_in_process(broker: Broker, msgs) -> tuple[float, Any]:
    """Start a publisher process; returns (t0 of the go signal, its result queue)."""
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_publisher_proc, args=(broker.host, broker.port, msgs, start, out))
    proc.start()
    time.sleep(0.5)  # connected
    t0 = time.perf_counter()
    start.set()
    return t0, (proc, out)


def raw_broker(broker: Broker, n: int) -> float:
    count = Counter(n)
    sub = client(broker, "bench-raw-sub", lambda *_a: count.add())
    subscribe(sub, "siaga/v1/dev/+/incident")
    t0, (proc, _out) = publish_in_process(broker, payloads(n))
    count.done.wait(120)
    dt = time.perf_counter() - t0
    proc.join(60)
    sub.disconnect()
    sub.loop_stop()
    return count.n / dt


def gateway_ingest(broker: Broker, gw: Gateway, n: int) -> tuple[float, float]:
    count = Counter(n)

    def on_ack(_c, _u, msg):
        count.add(len(decode(Ack, msg.payload).stored))

    units = client(broker, "bench-units", on_ack)
    subscribe(units, "siaga/v1/dev/+/ack")
    t0, (proc, out) = publish_in_process(broker, payloads(n))
    count.done.wait(300)
    dt = time.perf_counter() - t0
    t_pub = out.get(timeout=60)
    proc.join(60)
    units.disconnect()
    units.loop_stop()
    if count.n < n:
        print(f"  WARNING: only {count.n}/{n} acked")
    return count.n / dt, n / t_pub


def latency(broker: Broker, opd: OpdServer, m: int, gap_s: float
            ) -> tuple[list[float], list[float], list[float]]:
    """(publish -> ack at the unit, publish -> webhook at the OPD, raw broker
    round trip) in ms; a raw round trip (one QoS 1 message of the same size
    to a plain subscriber) just before each incident, so both see the same
    moment of the machine."""
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}

    def on_ack(_c, _u, msg):
        t = time.time()
        for item in decode(Ack, msg.payload).stored:
            acked.setdefault(item.id, t)

    units = client(broker, "bench-lat-units", on_ack)
    subscribe(units, "siaga/v1/dev/+/ack")
    pub = client(broker, "bench-lat-pub")
    got = threading.Event()
    echo = client(broker, "bench-lat-rtt", lambda *_a: got.set())
    subscribe(echo, "bench/rtt")
    rtt: list[float] = []
    base = len(opd.hits)
    for topic, payload, mid in payloads(m, category="fire"):
        got.clear()
        t0 = time.perf_counter()
        pub.publish("bench/rtt", payload, qos=1)
        if got.wait(5):
            rtt.append((time.perf_counter() - t0) * 1000)
        time.sleep(gap_s / 2)
        sent[mid] = time.time()
        pub.publish(topic, payload, qos=1)
        time.sleep(gap_s)
    deadline = time.monotonic() + 60
    while len(opd.hits) - base < m and time.monotonic() < deadline:
        time.sleep(0.05)
    for c in (pub, units, echo):
        c.disconnect()
        c.loop_stop()
    hook = []
    for h in opd.hits[base:]:
        iid = json.loads(h.body)["incident_id"]
        if iid in sent:
            hook.append((h.at - sent[iid]) * 1000)
    ack = [(acked[i] - sent[i]) * 1000 for i in sent if i in acked]
    return ack, hook, rtt


def drain(broker: Broker, cfg, n: int) -> float:
    """Ingest capacity without the publisher as the limit: N incidents wait
    at the broker (persistent session) while the gateway is down; after its
    start, first ack to last ack."""
    times: list[float] = []
    count = Counter(n)

    def on_ack(_c, _u, msg):
        times.append(time.perf_counter())
        count.add(len(decode(Ack, msg.payload).stored))

    units = client(broker, "bench-drain-units", on_ack)
    subscribe(units, "siaga/v1/dev/+/ack")
    pub = client(broker, "bench-drain-pub")
    publish_all(pub, payloads(n))
    gw = Gateway(cfg, http=False).start()
    count.done.wait(300)
    gw.stop()
    for c in (pub, units):
        c.disconnect()
        c.loop_stop()
    return count.n / (times[-1] - times[0]) if len(times) > 1 else float("nan")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="messages per throughput run")
    ap.add_argument("--latency-n", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=20.0, help="pause between latency publishes")
    ap.add_argument("--broker-inflight", type=int, default=100,
                    help="mosquitto max_inflight_messages (also the gateway's receive maximum)")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    from central.broker.files import broker_tempdir

    tmp = broker_tempdir(prefix="siaga-bench-")  # the broker drops to mosquitto as root
    broker = Broker(tmp / "broker", max_inflight_messages=args.broker_inflight)
    broker.start()
    opd = OpdServer()
    try:
        cfg = site_config(tmp, broker, hooks={"damkar": opd.url}, instance="bench")
        cfg.gateway.dispatch.poll_s = 0.5
        # the raw run comes first, before the gateway subscribes to the same topics
        raw = raw_broker(broker, args.n)
        gw = Gateway(cfg, http=False).start()
        register(gw.db, *DEVICES)
        print(f"payload size: {len(payloads(1)[0][1])} bytes, {args.n} messages, QoS 1, "
              f"{len(DEVICES)} devices; DB {cfg.gateway.database_url} (WAL, synchronous=FULL); "
              f"broker max_inflight_messages {args.broker_inflight}")
        print(f"raw broker throughput (publisher process -> subscriber): {raw:8.0f} msg/s")
        ing, pub_rate = gateway_ingest(broker, gw, args.n)
        print(f"gateway ingest (publish -> stored + acked at unit): {ing:8.0f} incidents/s "
              f"({ing / raw:.0%} of raw broker; publisher alone ran at {pub_rate:.0f} msg/s)")
        batches = gw.metrics.batch_size
        total = sum(s.value for s in batches.collect()[0].samples if s.name.endswith("_count"))
        summ = sum(s.value for s in batches.collect()[0].samples if s.name.endswith("_sum"))
        print(f"  group commits: {total:.0f}, mean batch {summ / max(total, 1):.1f} messages")
        ack, lat, rtt = latency(broker, opd, args.latency_n, args.gap_ms / 1000)
        print(f"latency, {args.latency_n} fire incidents one at a time, one every {args.gap_ms:g} ms "
              f"(load average {os.getloadavg()[0]:.1f}):")
        for name, v in (("raw broker round trip", rtt), ("publish -> ack at unit", ack),
                        ("publish -> signed webhook at OPD", lat)):
            if v:
                print(f"  {name:34} p50 {statistics.median(v):7.2f} ms  p99 {pct(v, 99):7.2f} ms  "
                      f"max {max(v):7.1f} ms")
        if ack and rtt:
            ratio = pct(ack, 99) / pct(rtt, 99)
            print(f"  single case publish -> ack p99 / raw round trip p99: {ratio:.1f} x "
                  f"(issue 16: <= 10 x on a quiet machine)")
        gw.stop()
        d = drain(broker, cfg, args.n)
        print(f"gateway drain of {args.n} queued at the broker while it was down: {d:8.0f} incidents/s "
              f"(first to last ack)")
    finally:
        opd.stop()
        broker.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

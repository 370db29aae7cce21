"""QoS 1 publish -> echo -> receive round trip through a private broker,
with and without TCP_NODELAY (Nagle's algorithm costs ~40 ms a hop).

Measures the project's own pieces: the broker config from
`central.broker.mosquitto` and clients from `protocol.mqtt.make_client`.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import threading
import time
from pathlib import Path

from central.broker.files import broker_tempdir
from central.broker.process import MosquittoProcess
from protocol.mqtt import BrokerSettings, connect, make_client


def measure(broker: MosquittoProcess, n: int, nodelay: bool) -> list[float]:
    settings = BrokerSettings(host=broker.host, port=broker.port)
    got = threading.Event()
    ready = threading.Event()
    echo = make_client(f"echo-{nodelay}", settings)
    probe = make_client(f"probe-{nodelay}", settings)
    if not nodelay:  # the trap: leave Nagle on, as paho does by default
        echo.on_socket_open = None
        probe.on_socket_open = None
    echo.on_connect = lambda c, *_: c.subscribe("bench/ping", 1)
    echo.on_subscribe = lambda *_: ready.set()
    echo.on_message = lambda c, _u, m: c.publish("bench/pong", m.payload, qos=1)
    probe_ready = threading.Event()
    probe.on_connect = lambda c, *_: c.subscribe("bench/pong", 1)
    probe.on_subscribe = lambda *_: probe_ready.set()
    probe.on_message = lambda *_: got.set()
    for c in (echo, probe):
        connect(c, settings, clean_start=True)
        c.loop_start()
    ready.wait(10)
    probe_ready.wait(10)
    payload = b"x" * 400
    out = []
    for _ in range(n):
        got.clear()
        t0 = time.perf_counter()
        probe.publish("bench/ping", payload, qos=1)
        if not got.wait(5):
            raise TimeoutError("no echo")
        out.append((time.perf_counter() - t0) * 1000)
    for c in (echo, probe):
        c.disconnect()
        c.loop_stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=300, help="round trips per variant")
    args = ap.parse_args()
    tmp = broker_tempdir(prefix="siaga-rtt-")  # the broker drops to mosquitto as root
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, tmp, True)
        fast = MosquittoProcess(Path(tmp) / "nodelay")
        fast.start()
        slow = MosquittoProcess(Path(tmp) / "nagle")
        slow.conf_path.write_text(slow.conf_path.read_text().replace("set_tcp_nodelay true\n", ""))
        slow.start()
        try:
            for name, broker, nodelay in (("TCP_NODELAY both ends", fast, True),
                                          ("Nagle on (defaults)", slow, False)):
                rtt = sorted(measure(broker, args.n, nodelay))
                p50 = statistics.median(rtt)
                p99 = rtt[int(len(rtt) * 0.99) - 1]
                print(f"{name:24} QoS1 round trip over {args.n}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        finally:
            fast.stop()
            slow.stop()


if __name__ == "__main__":
    main()

"""What bench/surge.py measures beside the presses: the raw broker round
trip, the disk's own fsync, a process's RSS, the gateways' ingest stage
histograms from ``/metrics``, and when the slow ones came."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path

from central.broker.process import MosquittoProcess
from protocol.mqtt import BrokerSettings, connect, make_client


def unit_client(host: str, port: int, cid: str):
    """A light MQTT client as the simulated units use (returns it and its
    "connected" event)."""
    s = BrokerSettings(host=host, port=port, session_expiry_s=0, keepalive_s=60)
    c = make_client(cid, s)
    ready = threading.Event()
    c.on_connect = lambda *_a: ready.set()
    connect(c, s, clean_start=True)
    c.loop_start()
    return c, ready


class RoundTrip:
    """The raw broker round trip: QoS 1 publish -> the same client receives it."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.c, ok = unit_client(broker.host, broker.port, "bench-rtt")
        ok.wait(10)
        self.got = threading.Event()
        self.c.on_message = lambda *_a: self.got.set()
        self.c.subscribe("bench/rtt", 1)
        time.sleep(0.3)

    def once(self) -> float:
        self.got.clear()
        t0 = time.perf_counter()
        self.c.publish("bench/rtt", b"x" * 300, qos=1)
        self.got.wait(10)
        return (time.perf_counter() - t0) * 1000

    def sample(self, n: int, gap_s: float = 0.01) -> list[float]:
        out = []
        for _ in range(n):
            out.append(self.once())
            time.sleep(gap_s)
        return out

    def during(self, stop: threading.Event, out: list[float], pids: list[int], peaks: list[float]) -> None:
        """Round trips every 0.1 s during the surge; also each gateway's
        largest RSS seen meanwhile (``peaks``)."""
        while not stop.is_set():
            out.append(self.once())
            for i, pid in enumerate(pids):
                peaks[i] = max(peaks[i], rss_mb(pid)[0])
            stop.wait(0.1)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def fsync_probe(folder: Path, stop: threading.Event, out: list[float]) -> None:
    """The disk's own fsync time beside the gateway's (8 KiB appended and
    fsynced every 0.1 s in the database's folder): a commit waits for one, and
    a virtual disk's rare slow fsync holds every press queued behind it."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while not stop.is_set():
            os.write(fd, b"x" * 8192)
            t0 = time.perf_counter()
            os.fsync(fd)
            out.append((time.perf_counter() - t0) * 1000)
            stop.wait(0.1)
    finally:
        os.close(fd)
        path.unlink()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB."""
    f = dict(ln.split(":", 1) for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in ln)
    return int(f["VmRSS"].split()[0]) / 1024, int(f["VmHWM"].split()[0]) / 1024


def slow_by_second(name: str, timed: list[tuple[float, float]], limit_ms: float) -> None:
    """Print when the slow ones came ((press time in the surge s, ms) pairs):
    a stall shows as a cluster, a periodic job as a rhythm."""
    secs: dict[int, list[float]] = defaultdict(list)
    for at, ms in sorted(timed):
        if ms > limit_ms:
            secs[int(at)].append(ms)
    if secs:
        print(f"  {name}, by second of the surge: " + ", ".join(
            f"{sec}s:{len(v)}(max {max(v):.0f})" for sec, v in sorted(secs.items())))


def stages(urls: list[str]) -> dict[str, list[tuple[float, float]]]:
    """Each ingest stage's histogram (``siaga_gateway_ingest_seconds``, and the
    commit's), summed over the gateways: stage -> [(upper bound s, count)]."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for url in urls:
        body = httpx.get(url + "/metrics", timeout=30).text
        for fam in text_string_to_metric_families(body):
            if fam.name not in ("siaga_gateway_ingest_seconds", "siaga_gateway_commit_seconds"):
                continue
            for smp in fam.samples:
                if smp.name.endswith("_bucket"):
                    stage = smp.labels.get("stage", "commit")
                    out[stage][float(smp.labels["le"])] += smp.value
    return {k: sorted(v.items()) for k, v in out.items()}


def bucket_pct(buckets: list[tuple[float, float]], q: float) -> float:
    """The q-th percentile (ms) from cumulative buckets, linear within one."""
    total = buckets[-1][1]
    if not total:
        return float("nan")
    want, lo, below = total * q / 100, 0.0, 0.0
    for le, n in buckets:
        if n >= want:
            if le == float("inf"):
                return lo * 1000
            return (lo + (le - lo) * (want - below) / max(n - below, 1e-9)) * 1000
        lo, below = le, n
    return lo * 1000

"""Two `siaga gateway` processes on one host, started from one site file:
each gets its own MQTT client id, so neither takes the other's session over,
and the shared subscription gives each a part of the load."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.store.db import Database
from protocol.codec import encode
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import incident, register, wait_for
from tests.support.mqtt import TestClient

UNITS = [f"box-two-{n}" for n in range(4)]
#: 20 s rather than the minute of the report: the old shared id was taken
#: over about once a second (12 times in 12 s), so 20 s would show ~20
RUN_S = 20.0


def _site(tmp_path: Path, broker) -> Path:
    pw = tmp_path / "gateway.pw"
    pw.write_text("gateway-test-pw\n")
    site = tmp_path / "site.yaml"
    site.write_text(f"""
site: {{name: Kota Uji, case_prefix: MDN}}
broker: {{host: {broker.host}, port: {broker.port}, username: gateway, password_file: {pw}}}
gateway:
  database_url: "sqlite:///{tmp_path / 'gateway.db'}"
  http: {{host: 127.0.0.1, port: 0}}
opds:
  - {{id: damkar, name: Dinas Pemadam Kebakaran}}
routing:
  rules: [{{categories: [fire], opds: [damkar]}}]
""")
    return site


def _http_port(pid: int) -> int | None:
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, timeout=10).stdout
    for line in out.splitlines():
        if f"pid={pid}," in line:
            return int(line.split()[3].rsplit(":", 1)[1])
    return None


def _incidents_taken(pid: int) -> float:
    port = _http_port(pid)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    m = re.search(r'^siaga_gateway_messages_total\{kind="incident"\} ([0-9.e+]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_two_gateways_one_site_file_no_takeover_and_shared_load(tmp_path, secure_broker):
    for unit in UNITS:
        secure_broker.add_user(unit, f"pw-{unit}")
    secure_broker.reload()
    site = _site(tmp_path, secure_broker)
    cmd = [sys.executable, "-m", "siaga", "gateway", "--config", str(site)]
    subprocess.run([*cmd, "migrate"], check=True, capture_output=True, timeout=120)
    db = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    register(db, *UNITS)
    logs = [(tmp_path / f"gw{n}.log").open("wb") for n in range(2)]
    procs = [subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT) for f in logs]
    units: list[TestClient] = []
    try:
        wait_for(lambda: all(_http_port(p.pid) for p in procs) or any(p.poll() is not None for p in procs),
                 timeout=60)
        assert all(p.poll() is None for p in procs), [(tmp_path / f"gw{n}.log").read_text()[-2000:]
                                                      for n in range(2)]
        wait_for(lambda: secure_broker.log_path.read_text().count("as gateway-") >= 2, timeout=30)
        for unit in UNITS:
            c = TestClient(secure_broker, unit, username=unit, password=f"pw-{unit}").start()
            c.subscribe(device_topic(unit, DeviceTopic.ACK), qos=1)
            units.append(c)
        sent = 0
        deadline = time.monotonic() + RUN_S
        while time.monotonic() < deadline:  # ~10 incidents a second from four units
            for c, unit in zip(units, UNITS, strict=True):
                sent += 1
                c.publish(device_topic(unit, DeviceTopic.INCIDENT), encode(incident(unit, seq=sent)))
            time.sleep(0.4)
        from sqlalchemy import func, select

        from gateway.store.models import Incident

        def stored() -> int:
            with db.session() as s:
                return s.scalar(select(func.count()).select_from(Incident)) or 0

        wait_for(lambda: stored() == sent, timeout=60)
        taken = [_incidents_taken(p.pid) for p in procs]
        log = secure_broker.log_path.read_text()
        ids = sorted(set(re.findall(r" as (gateway-\S+) ", log)))
        print(f"{sent} incidents over {RUN_S:.0f}s; taken by each gateway: {taken}; client ids {ids}")
        ingest_ids = [i for i in ids if not i.endswith("-events")]
        assert len(ingest_ids) == 2, ids  # one per process, e.g. gateway-<host>-<pid>
        # and each process's console-event feed (gateway.event_feed), named after it
        assert sorted(i for i in ids if i.endswith("-events")) == [f"{i}-events" for i in ingest_ids]
        assert "already connected, closing old connection" not in log, log[-3000:]
        assert all(t > 0 for t in taken) and sum(taken) >= sent, taken
        assert all(p.poll() is None for p in procs)
    finally:
        for c in units:
            c.stop()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs:
            f.close()
        db.dispose()

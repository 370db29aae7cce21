"""Issue 21 with real `siaga gateway` processes: a dead worker ends the
process (non-zero, so systemd restarts it), and a message that kills the
process twice is dead-lettered by the next start instead of a restart loop.

The fault is injected by a small launcher that patches the gateway before
running the real CLI entry point, as a bug would be there."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from gateway.runtime import Gateway
from protocol.codec import decode, encode
from protocol.reports import Ack
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import incident, make_user, register, site_config, wait_for
from tests.support.broker import free_port
from tests.support.mqtt import TestClient

LAUNCHER = textwrap.dedent("""
    import os, sys
    from gateway.ingest import MqttIngest
    from gateway.intake import Intake

    real_process, real_acks = Intake.process, MqttIngest._send_acks

    def process(self, batch):
        if any(b"kill-the-process" in m.payload for m in batch):
            os._exit(9)  # a hard crash mid-message: segfault, OOM killer
        return real_process(self, batch)

    def send_acks(self, result):
        if any(i.seq == 666 for a in result.acks.values() for i in a.stored):
            raise RuntimeError("injected bug in the worker")
        return real_acks(self, result)

    Intake.process, MqttIngest._send_acks = process, send_acks
    from siaga.cli import main
    main(["gateway", "--config", sys.argv[1]])
""")


def site_file(tmp_path: Path, broker, port: int) -> Path:
    site = tmp_path / "site.yaml"
    site.write_text(f"""
mode: demo
site: {{name: X, case_prefix: XX}}
# a long session: on a loaded machine a restart can take longer than the default 10 s
broker: {{host: {broker.host}, port: {broker.port}, session_expiry_s: 600}}
gateway:
  database_url: "sqlite:///{tmp_path / 'gw.db'}"
  http: {{port: {port}}}
  instance_id: crash
  ingest: {{client_id: gateway-crash}}  # the same broker session across restarts
opds: [{{id: damkar, name: Damkar}}]
""")
    (tmp_path / "launch.py").write_text(LAUNCHER)
    return site


def start(tmp_path: Path, site: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(tmp_path / "launch.py"), str(site)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=os.environ | (env or {}))


def ready(port: int, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"gateway exited {proc.returncode}: {proc.stdout.read()}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def prepare(tmp_path: Path, broker, device: str) -> tuple[Path, int]:
    port = free_port()
    site = site_file(tmp_path, broker, port)
    g = Gateway(site_config(tmp_path, broker, db_url=f"sqlite:///{tmp_path / 'gw.db'}"),
                mqtt=False, http=False)
    g.build()
    register(g.db, device)
    g.db.dispose()
    return site, port


@pytest.mark.slow
def test_a_dead_worker_ends_the_process_non_zero(broker, tmp_path):
    site, port = prepare(tmp_path, broker, "box-w")
    sock_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(sock_path))
    proc = start(tmp_path, site, {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"})
    try:
        wait_for(lambda: ready(port, proc), timeout=60)
        unit = TestClient(broker, "box-w").start()
        unit.publish(device_topic("box-w", DeviceTopic.INCIDENT), encode(incident("box-w", seq=666)))
        out, _ = proc.communicate(timeout=60)
        unit.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert "ingest worker died" in out and "a worker thread died" in out
    notify.settimeout(0.5)
    said = []
    try:
        while True:
            said.append(notify.recv(100).decode())
    except TimeoutError:
        pass
    assert said[0] == "READY=1" and said[-1] == "STOPPING=1"
    notify.close()


@pytest.mark.slow
def test_a_message_that_kills_twice_is_dead_lettered_and_ingest_goes_on(broker, tmp_path):
    site, port = prepare(tmp_path, broker, "box-k")
    unit = TestClient(broker, "box-k").start()
    unit.subscribe(device_topic("box-k", DeviceTopic.ACK))
    killer = incident("box-k", seq=1, description="kill-the-process")
    codes = []
    for _ in range(2):  # the first start meets it in a batch, the second alone: both die
        proc = start(tmp_path, site)
        if not codes:
            wait_for(lambda p=proc: ready(port, p), timeout=60)
            unit.publish(device_topic("box-k", DeviceTopic.INCIDENT), encode(killer))
        proc.communicate(timeout=60)
        codes.append(proc.returncode)
    assert codes == [9, 9]

    proc = start(tmp_path, site)  # the third start dead-letters it
    try:
        wait_for(lambda: ready(port, proc), timeout=60)
        ack = decode(Ack, unit.get(timeout=30).payload)
        assert [(r.id, r.reason) for r in ack.rejected] == [(killer.id, "poison")]
        good = incident("box-k", seq=2)
        unit.publish(device_topic("box-k", DeviceTopic.INCIDENT), encode(good))
        assert [i.id for i in decode(Ack, unit.get(timeout=15).payload).stored] == [good.id]

        g = Gateway(site_config(tmp_path, broker, db_url=f"sqlite:///{tmp_path / 'gw.db'}"),
                    mqtt=False, http=False, migrate=False)
        g.build()
        token = make_user(g.db, "adm", "admin")
        g.db.dispose()
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
        rows = api.get("/api/ingest/dead-letters").json()
        assert [(r["reason"], r["attempts"], r["device_id"]) for r in rows] == [("poison", 2, "box-k")]
        assert base64.b64decode(rows[0]["payload_base64"]) == encode(killer)
        metrics = api.get("/metrics").text
        assert 'siaga_gateway_ingest_dead_letters_total{reason="poison"} 1.0' in metrics
        assert 'siaga_gateway_rejected_total{reason="poison"} 1.0' in metrics
        api.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        unit.stop()
    assert proc.returncode == 0, out

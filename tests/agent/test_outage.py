"""Outage and power-cut tests: the agent as a real subprocess (so it can be
SIGKILLed), mock pins driven through its test-only control socket
(``sim_control``), a real Mosquitto stopped and restarted mid-test."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import defaultdict

import pytest

from tests.agent.support import AgentProcess, Responder, base_config, wait_for, write_config


def _agent(tmp_path, broker, device_id: str, *, lean: bool = False, **extra) -> AgentProcess:
    d = tmp_path / device_id
    d.mkdir(exist_ok=True)
    cfg = base_config(d, broker, device_id=device_id, sim_control=str(d / "ctl.sock"),
                      timings={"same_incident_s": 0, "reconnect_max_s": 1}, **extra)
    path = write_config(d / "unit.yaml", **cfg)
    return AgentProcess(path, d / "ctl.sock", d / "agent.log", lean=lean)


def test_outage_200_presses_sigkill_restart_exactly_once_in_order(tmp_path, broker):
    responder = Responder(broker, client_id="gw-outage", persistent=True).start()
    try:
        proc = _agent(tmp_path, broker, "box-outage").start()
        wait_for(lambda: proc.state()["connected"], what="agent connected")
        broker.stop()
        wait_for(lambda: not proc.state()["connected"], what="agent sees the outage")
        replies = [proc.press("medical") for _ in range(200)]
        assert all(status == "recorded" for status, _ in replies)
        recorded = [ref for _, ref in replies]
        assert proc.state()["outbox_depth"] == 200
        proc.kill()  # SIGKILL while offline with 200 unsent incidents

        proc = _agent(tmp_path, broker, "box-outage").start()  # restarts with the broker still down
        assert proc.state()["outbox_depth"] == 200
        broker.start()
        wait_for(lambda: len(responder.stored) >= 200, timeout=60, what="200 incidents at the centre")
        wait_for(lambda: proc.state()["outbox_depth"] == 0, timeout=30, what="all acked")
        assert proc.terminate() == 0
    finally:
        responder.stop()
    ids = [i for _dev, i, _seq in responder.order]
    assert len(ids) == 200 and set(ids) == set(recorded)  # exactly these 200, stored once each
    seqs = [seq for _dev, _i, seq in responder.order]
    assert seqs == sorted(seqs) and len(set(seqs)) == 200  # in order per device
    assert ids == recorded  # first arrivals in the order they were pressed
    assert "Traceback" not in (tmp_path / "box-outage" / "agent.log").read_text()
    db = sqlite3.connect(tmp_path / "box-outage" / "box-outage.db")
    assert db.execute("SELECT count(*), count(DISTINCT id) FROM incidents WHERE state='delivered'"
                      ).fetchone() == (200, 200)


@pytest.mark.slow
@pytest.mark.timeout(360)  # 55 agent process starts: minutes on a loaded 2-core machine
def test_power_cut_sigkill_during_50_write_loops(tmp_path, broker, responder):
    """5 boxes x 10 loops: presses stream in while SIGKILL lands at a random
    moment; afterwards every incident the box reported "recorded" reaches
    the centre and each database passes PRAGMA integrity_check. The kill
    loops use the lean entry (`python -m firmware.agent`, same runner as
    `siaga unit` without Typer) to keep 55 process starts affordable; the
    final drain uses `python -m siaga unit`."""
    lanes, loops = 5, 10
    recorded: dict[str, list[str]] = defaultdict(list)
    errors: list[BaseException] = []
    rng = random.Random(112)
    delays = {f"box-cut-{k}": [rng.uniform(0.0, 0.4) for _ in range(loops)] for k in range(lanes)}

    def presser(proc: AgentProcess, out: list[str]) -> None:
        buttons = ["medical", "fire", "security"]
        n = 0
        while True:
            try:
                status, ref = proc.press(buttons[n % 3])
            except (OSError, ValueError, ConnectionError):
                return  # killed mid-request: that press was never reported "recorded"
            if status == "recorded":
                out.append(ref)
            n += 1

    def lane(device: str) -> None:
        try:
            for delay in delays[device]:
                proc = _agent(tmp_path, broker, device, lean=True).start()
                t = threading.Thread(target=presser, args=(proc, recorded[device]))
                t.start()
                time.sleep(delay)
                proc.proc.kill()  # power cut: no chance to finish anything
                proc.proc.wait(10)
                t.join(10)
                proc.kill()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lane, args=(d,)) for d in delays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert sum(len(v) for v in recorded.values()) > 0

    finals = {device: _agent(tmp_path, broker, device).start() for device in delays}
    for device, proc in finals.items():
        wait_for(lambda proc=proc: proc.state()["outbox_depth"] == 0, timeout=60, what=f"{device} drained")
    for device, proc in finals.items():
        assert proc.terminate() == 0
        db = sqlite3.connect(tmp_path / device / f"{device}.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored_ids = {row[0] for row in db.execute("SELECT id FROM incidents")}
        assert set(recorded[device]) <= stored_ids
        assert db.execute("SELECT count(*) FROM incidents WHERE state != 'delivered'").fetchone()[0] == 0
        assert "Traceback" not in (tmp_path / device / "agent.log").read_text()
    with responder.lock:
        at_centre = {i for _d, i, _s in responder.order}
        by_device: dict[str, list[int]] = defaultdict(list)
        for dev, _i, seq in responder.order:
            by_device[dev].append(seq)
    for device, ids in recorded.items():
        missing = set(ids) - at_centre
        assert not missing, f"{device}: {len(missing)} recorded incidents never reached the centre"
    for dev, seqs in by_device.items():
        assert len(seqs) == len(set(seqs)), f"{dev}: a sequence number was reused"

"""`siaga demo` (what `make demo` runs) starts the whole system and cases
flow from simulated units to stand-in OPDs and back."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from central.broker.process import free_port


def _counts(line: str) -> dict[str, int]:
    """The numbers of one `[demo]` progress line."""
    return {key: int(re.search(rf"{pattern}=(\d+)", line).group(1))
            for key, pattern in (("cases", "kasus/cases"), ("webhooks", "webhook OPD"),
                                 ("box_calls", "box calls"))}


def _enough(line: str) -> bool:
    c = _counts(line)
    return c["cases"] >= 2 and c["webhooks"] >= 1 and c["box_calls"] >= 1


@pytest.mark.timeout(330)  # up to 150 s of demo, plus start and stop on a loaded machine
def test_demo_runs_end_to_end(broker_dir):
    """Runs until cases, an OPD webhook and a box's call to the panel have
    happened (progress every 10 s), then stops as Ctrl-C in a terminal does
    (SIGINT to the whole foreground process group): the test waits for the
    outcome, not for a fixed window a loaded machine may not fill. The stop
    is recorded as each unit's clean stop, not as its will (the broker and
    the units must not take the Ctrl-C themselves), and the boxes' door and
    mains inputs were at rest from the first health check (no fault for them)."""
    state = broker_dir / "demo"  # its broker drops to user mosquitto when run as root
    proc = subprocess.Popen(
        [sys.executable, "-m", "siaga", "demo", "--duration", "150", "--interval", "1", "--seed", "7",
         "--state", str(state), "--port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("[demo]") and _enough(line):
                os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole group
                break
        try:
            rest, _ = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:  # a stop that hangs: where each thread is, then fail
            os.kill(proc.pid, signal.SIGUSR1)  # faulthandler in `siaga demo` prints every thread
            time.sleep(3)
            proc.kill()
            rest, _ = proc.communicate(timeout=30)
            pytest.fail("the demo did not stop within 90 s of Ctrl-C:\n" + rest[-8000:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + rest
    assert proc.returncode == 0, out[-3000:]
    assert "demo berjalan / is running" in out
    assert "/docs" in out and "operator" in out
    last = [line for line in out.splitlines() if line.startswith("[demo]")][-1]
    counts = _counts(last)
    assert counts["cases"] >= 2, last
    assert counts["webhooks"] >= 1, last
    # a box's dial-out rang the panel over the simulated GSM network and was answered there
    assert counts["box_calls"] >= 1, last
    assert "Jaringan GSM" in out
    # every unit stopped cleanly: no agent left behind
    assert "Berhenti / stopping" in out
    # the units were provisioned as in production: a bundle each, and a broker
    # that knows only the gateway and the four units, with the site ACL
    bundles = sorted(p.name for p in (state / "bundles").iterdir())
    assert bundles == ["box-kartoharjo-002", "box-manguharjo-003", "box-taman-001", "panel-desk-01"]
    assert (state / "bundles" / "box-taman-001" / "sms.key").exists()  # SMS fallback provisioned
    users = sorted(line.split(":")[0] for line in (state / "central-site" / "passwd").read_text().split())
    assert users == ["box-kartoharjo-002", "box-manguharjo-003", "box-taman-001", "gateway",
                     "panel-desk-01"]
    assert "pattern write siaga/v1/dev/%u/incident" in (state / "central-site" / "acl").read_text()
    assert "allow_anonymous false" in (state / "broker" / "mosquitto.conf").read_text()
    with sqlite3.connect(state / "gateway.db") as db:
        stopped = sorted(d for (d,) in db.execute("SELECT device FROM fleet_events WHERE kind='stopped'"))
        faults = db.execute("SELECT device, fault, detail FROM fleet_faults").fetchall()
        reasons = dict(db.execute("SELECT id, status_reason FROM devices").fetchall())
    assert stopped == bundles, stopped
    # no "offline (will)" at the stop, no door_tamper / mains_lost at the start
    assert [f for f in faults if f[1] in ("offline", "door_tamper", "mains_lost")] == [], faults
    assert reasons == dict.fromkeys(bundles, "shutdown"), reasons


def test_demo_stops_with_one_line_when_its_broker_dies(broker_dir):
    """A vital child gone (here the broker, SIGKILLed): the demo says so once
    and exits 1, instead of looping on failed events."""
    state = broker_dir / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "siaga", "demo", "--duration", "300", "--interval", "1",
         "--state", str(state), "--port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until the demo says it runs
            lines.append(line)
            if "demo berjalan / is running" in line:
                break
        else:
            raise AssertionError("".join(lines)[-3000:])
        pid = int((state / "broker" / "var" / "mosquitto.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        rest, _ = proc.communicate(timeout=60)
        took = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + rest
    assert proc.returncode == 1, out[-3000:]
    stopped = [ln for ln in out.splitlines() if ln.startswith("Demo berhenti / demo stopped:")]
    assert len(stopped) == 1 and "broker" in stopped[0], out[-3000:]
    assert "Errno 2" not in out, out[-3000:]
    assert took < 45, took  # it noticed within a second; stopping the units takes the rest

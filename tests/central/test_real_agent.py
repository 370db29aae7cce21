"""Done-when checks of issue 8 with the REAL unit agent (``firmware.agent``)
on gpiozero's mock pins and the modem simulator, a real Mosquitto running
central's generated password file and ACL, and the real `siaga admin` CLI."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient as HttpClient

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from gateway.fleet.api import make_router
from protocol.fleet import Profile
from tests.agent.support import AgentThread
from tests.central.conftest import wait_for

SIAGA = shutil.which("siaga") or str(Path(sys.executable).parent / "siaga")


def healthy_box(mock_pins) -> None:
    """Door closed, mains present (sense inputs are active-low with pull-ups)."""
    from firmware.pins import DEFAULT_PINS

    pins = DEFAULT_PINS["field"]
    mock_pins.pin(pins["door_tamper"]).drive_low()
    mock_pins.pin(pins["mains_ok"]).drive_low()


def agent_config(site, tmp_path: Path, device: str, modem_url: str | None) -> UnitConfig:
    """The bundle `device add` wrote, plus what differs on a test bench:
    where the SD card's files are, and fast timings."""
    bundle = site.settings.bundle_dir / device
    doc = yaml.safe_load((bundle / "unit.yaml").read_text())
    doc["broker"]["password_file"] = str(bundle / "broker.password")
    doc["broker"]["session_expiry_s"] = 3600
    doc.update(
        storage={"path": str(tmp_path / f"{device}.db"), "min_free_mb": 0, "critical_reserve_mb": 0},
        timings={"ack_timeout_s": 2.0, "retry_base_s": 0.2, "retry_max_s": 1.0, "loop_tick_s": 0.1},
        clock_synced=False, reboot_command=["true"],
        modem={"url": modem_url, "command_timeout_s": 2.0} if modem_url else {},
    )
    return UnitConfig.model_validate(doc)


def central_yaml(site, tmp_path: Path) -> Path:
    pw = tmp_path / "admin.password"
    pw.write_text(site.admin_password + "\n")
    pw.chmod(0o600)
    s = site.settings
    doc = {"gateway_db_url": site.db_url, "site_dir": str(s.site_dir), "bundle_dir": str(s.bundle_dir),
           "broker": {"host": site.broker.host, "port": site.broker.port, "username": "admin",
                      "password_file": str(pw), "session_expiry_s": 0},
           "unit_broker": {"host": site.broker.host, "port": site.broker.port, "tls": False},
           "reload": {"pid_file": str(s.reload.pid_file)}, "command_timeout_s": 20}
    path = tmp_path / "central.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def admin(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SIAGA, "admin", "--config", str(conf), *args], capture_output=True, text=True,
                          timeout=120)


def test_provisioned_agent_connects_revoked_one_is_refused(site, fleet, tmp_path, mock_pins, modem_sim):
    site.prov.add_device("box-1", profile=Profile.FIELD)
    agent = Agent(agent_config(site, tmp_path, "box-1", modem_sim.url))
    healthy_box(mock_pins)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        assert wait_for(lambda: (fleet.health.presence("box-1") or {}).get("online") == 1)
        site.prov.revoke("box-1")
        # the broker drops the live session on reload; the agent's retries are refused
        assert wait_for(lambda: not agent.link.connected, timeout=15)
        assert wait_for(lambda: (fleet.health.presence("box-1") or {}).get("online") == 0, timeout=15), \
            (fleet.counters, fleet.health.presence("box-1"))
        assert wait_for(lambda: "not authori" in site.broker.log_path.read_text().lower(), timeout=15)
        # presence follows the broker's will, but a revoked unit is not a fault to chase
        assert fleet.health.open_faults("box-1") == []
    finally:
        run.stop()


def test_desired_config_online_offline_and_refused(site, fleet, tmp_path, mock_pins):
    site.prov.add_device("box-2", profile=Profile.FIELD)
    cfg = agent_config(site, tmp_path, "box-2", None)
    agent = Agent(cfg)
    healthy_box(mock_pins)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        fleet.config.set("box-2", {"volume": 30, "heartbeat_s": 20})  # the service publishes it
        assert wait_for(lambda: fleet.config.drift("box-2").state == "in_sync", timeout=15), \
            fleet.config.drift("box-2")
        assert agent.settings.volume == 30 and agent.hw.volume == 30 and agent.config_version == 1
    finally:
        run.stop()
    # offline: the change waits, retained, and arrives when the unit returns
    fleet.config.set("box-2", {"centre_number": "+62351112"})
    assert wait_for(lambda: fleet.config.drift("box-2").state == "pending")
    agent2 = Agent(cfg)
    healthy_box(mock_pins)
    run2 = AgentThread(agent2).start()
    try:
        run2.wait_connected()
        assert wait_for(lambda: fleet.config.drift("box-2").state == "in_sync", timeout=15)
        assert agent2.settings.centre_number == "+62351112" and agent2.settings.volume == 30
        # a value only the unit can judge: a button this box does not have
        fleet.config.set("box-2", {"button_categories": {"no_such_button": "fire"}})
        assert wait_for(lambda: fleet.config.drift("box-2").state == "refused", timeout=15)
        d = fleet.config.drift("box-2")
        assert d.refused_version == 3 and d.reported_version == 2 and "no_such_button" in d.error
        assert agent2.config_version == 2
    finally:
        run2.stop()


def test_cli_self_test_real_result_and_clean_timeout(site, fleet, tmp_path, mock_pins, modem_sim):
    conf = central_yaml(site, tmp_path)
    r = admin(conf, "device", "add", "box-3", "--profile", "field", "--location", "Jl. Pahlawan 12")
    assert r.returncode == 0, r.stderr
    assert "SIGHUP pid" in r.stdout
    agent = Agent(agent_config(site, tmp_path, "box-3", modem_sim.url))
    healthy_box(mock_pins)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        r = admin(conf, "cmd", "box-3", "self_test", "--timeout", "30")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "succeeded" in r.stdout
        assert "storage_writable" in r.stdout and "outputs." in r.stdout and "modem." in r.stdout
        from tests.central.test_cli import admin_inproc  # same app, no interpreter start-up

        r = admin_inproc(conf, "cmd", "box-3", "logs", "--lines", "5")
        assert r.returncode == 0 and "lines" in r.stdout
        r = admin_inproc(conf, "cmd", "box-3", "logs", "--arg", "lines=-4")
        assert r.returncode == 1 and "bad args" in r.stdout
        r = admin_inproc(conf, "cmd", "box-3", "warp_drive")
        assert r.returncode == 1 and "unknown command" in r.stdout
    finally:
        run.stop()
    r = admin(conf, "cmd", "box-3", "ping", "--timeout", "1.5")
    assert r.returncode == 1
    assert "timed out" in r.stderr and "unit is offline" in r.stderr
    from tests.central.test_cli import admin_inproc

    r = admin_inproc(conf, "commands", "--device", "box-3")
    assert "timed_out" in r.stdout and r.stdout.count("succeeded") == 2  # self_test, logs


def test_stopped_agent_goes_offline_as_a_clean_stop_in_api_and_cli(site, fleet, tmp_path, mock_pins,
                                                                   modem_sim):
    conf = central_yaml(site, tmp_path)
    site.prov.add_device("box-4", profile=Profile.FIELD)
    agent = Agent(agent_config(site, tmp_path, "box-4", modem_sim.url))
    healthy_box(mock_pins)
    run = AgentThread(agent).start()
    central = site.central
    app = FastAPI()
    app.include_router(make_router(central.fleet, service=fleet))
    with HttpClient(app) as http:
        try:
            run.wait_connected()
            # the fleet table's rows (GET /api/devices)
            assert wait_for(lambda: central.fleet.device_row(central.registry.get("box-4"))["online"])
        finally:
            run.stop()
        assert wait_for(lambda: not central.fleet.device_row(central.registry.get("box-4"))["online"])
        # a clean stop (SIGTERM, systemctl stop) is a stop, not a fault: no episode, no notice
        assert wait_for(lambda: "stopped" in [e["kind"] for e in fleet.health.events("box-4")])
        assert http.get("/api/devices/box-4/faults").json() == []
    r = admin(conf, "devices")
    assert r.returncode == 0
    line = next(x for x in r.stdout.splitlines() if x.startswith("box-4"))
    assert "offline" in line, line
    # the watch keeps ticking: the heartbeat check does not turn the stop into a fault
    time.sleep(0.5)
    assert fleet.health.faults("box-4") == []
    assert [n.kind for n in fleet.health.notifier.sent if n.device == "box-4"] == []


def test_frozen_agent_process_goes_offline_by_heartbeat_then_back(site, fleet, tmp_path):
    """SIGSTOP a real agent process: its TCP session stays up (no will for 1.5 x
    keepalive), so only the heartbeat watch can notice. SIGCONT brings it back."""
    import os
    import signal

    from tests.agent.support import AgentProcess

    site.settings.health.late_factor = 1.2  # heartbeat 5 s -> offline after 6 s of silence
    site.prov.add_device("box-6", profile=Profile.FIELD)
    doc = agent_config(site, tmp_path, "box-6", None).model_dump(mode="json", exclude_none=True)
    doc.update(heartbeat_s=5, sim_control=str(tmp_path / "box-6.sock"))
    cfg_path = tmp_path / "box-6.yaml"
    cfg_path.write_text(yaml.safe_dump(doc))
    proc = AgentProcess(cfg_path, tmp_path / "box-6.sock", tmp_path / "box-6.log").start()
    try:
        assert wait_for(lambda: fleet.counters["applied_telemetry"] >= 1, timeout=30)
        # the agent reports the settings in force (heartbeat 5 s) on connect
        assert wait_for(lambda: fleet.health.heartbeat_window("box-6").total_seconds() == 6.0, timeout=30)
        os.kill(proc.proc.pid, signal.SIGSTOP)
        assert wait_for(lambda: fleet.health.presence("box-6")["online"] == 0, timeout=30)
        assert fleet.health.presence("box-6")["status_reason"] == "heartbeat_late"
        os.kill(proc.proc.pid, signal.SIGCONT)
        assert wait_for(lambda: fleet.health.presence("box-6")["online"] == 1, timeout=30)
        # presence and the fault episode are two writes: wait for the episode to close too

        def offline_faults() -> list[dict]:
            return [f for f in fleet.health.faults("box-6") if f["fault"] == "offline"]

        assert wait_for(lambda: all(f["closed_at"] for f in offline_faults()), timeout=15)
        offline = offline_faults()
        assert len(offline) == 1 and offline[0]["closed_at"] and "heartbeat late" in offline[0]["detail"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.proc.pid, signal.SIGCONT)
        proc.kill()

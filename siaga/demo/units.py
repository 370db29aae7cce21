"""Simulated units for the demo: real agent processes on mock pins, each
with its own simulated GSM modem, and a client for their test-only control
socket (presses a button as a citizen or an operator would)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from central.broker.process import parent_death_signal
from firmware.sim import ModemSimulator
from siaga.errors import DemoUnitError

#: the demo's units: device id, profile, place (Kota Madiun)
FIELD_BOXES = [
    ("box-taman-001", "Jl. Pahlawan, depan Balai Kota", "Taman", -7.6298, 111.5239),
    ("box-kartoharjo-002", "Pasar Kartoharjo", "Kartoharjo", -7.6177, 111.5390),
    ("box-manguharjo-003", "Alun-alun Manguharjo", "Manguharjo", -7.6301, 111.5117),
]
PANELS = ["panel-desk-01"]


@dataclass
class SimUnit:
    device_id: str
    profile: str
    workdir: Path
    modem: ModemSimulator
    proc: subprocess.Popen[bytes] | None = None
    log: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def control(self) -> Path:
        return self.workdir / "ctl.sock"

    def send(self, line: str, timeout: float = 40.0) -> str:
        """One control request; returns the agent's one-line reply."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.control))
            s.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return buf.decode().strip()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise DemoUnitError(f"{self.device_id} exited ({self.proc.returncode}); "
                                   f"see {self.workdir / 'agent.log'}")
            if self.control.exists():
                try:
                    self.send("state", timeout=5)
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise DemoUnitError(f"{self.device_id} did not become ready; see {self.workdir / 'agent.log'}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.log:
            self.log.close()
        self.modem.stop()


def unit_config(device_id: str, profile: str, workdir: Path, *, broker_port: int, modem_url: str,
                place: tuple[str, str, float, float] | None = None,
                sms_numbers: list[str] | None = None, operator: str | None = None) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "device_id": device_id,
        "profile": profile,
        "broker": {"host": "127.0.0.1", "port": broker_port, "username": device_id,
                   # the SD-card bundle `siaga admin device add` wrote for this unit
                   "password_file": str(workdir.parents[1] / "bundles" / device_id / "broker.password")},
        "modem": {"url": modem_url, "profile": "sim800" if profile == "field" else "sim7600"},
        "centre_number": "112",
        "heartbeat_s": 15,
        "storage": {"path": str(workdir / "unit.db")},
        "reboot_command": ["true"],
        "sim_control": str(workdir / "ctl.sock"),
        "timings": {"ack_timeout_s": 5, "same_incident_s": 6},
    }
    key = workdir.parents[1] / "bundles" / device_id / "sms.key"
    if sms_numbers and key.exists():  # the SMS key `siaga admin device add` wrote into the bundle
        cfg["sms_fallback"] = {"numbers": sms_numbers, "key_file": str(key), "after_s": 10}
    if profile == "field":  # the box's door is shut and mains is on from the first health check
        cfg["sim_pins"] = {"door_tamper": "low", "mains_ok": "low"}
    if operator:  # a panel: who is signed in at the desk (on every answered call record)
        cfg["operator"] = operator
    if place:
        label, area, lat, lon = place
        cfg["location"] = {"label": label, "area": area, "lat": lat, "lon": lon}
    return cfg


def start_unit(device_id: str, profile: str, state: Path, *, broker_port: int,
               place: tuple[str, str, float, float] | None = None, network: Any = None,
               number: str | None = None, sms_numbers: list[str] | None = None,
               operator: str | None = None) -> SimUnit:
    """Start a modem simulator (on the simulated GSM network as ``number``)
    and an agent process for one unit."""
    workdir = state / "units" / device_id
    workdir.mkdir(parents=True, exist_ok=True)
    modem = ModemSimulator(profile="sim800" if profile == "field" else "sim7600")
    if network is not None and number:
        network.attach(number, modem)
    url = modem.start_tcp()
    cfg = unit_config(device_id, profile, workdir, broker_port=broker_port, modem_url=url, place=place,
                      sms_numbers=sms_numbers, operator=operator)
    cfg_path = workdir / "unit.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    log = (workdir / "agent.log").open("ab")
    env = os.environ | {"GPIOZERO_PIN_FACTORY": "mock"}
    # own process group: Ctrl-C in the terminal reaches the demo alone, which stops each unit
    # cleanly (SIGTERM) while its broker link is still there (Demo.stop); a demo killed
    # outright (SIGKILL) takes its units with it (started from the demo's main thread)
    proc = subprocess.Popen([sys.executable, "-m", "siaga", "unit", "--config", str(cfg_path)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, process_group=0,
                            preexec_fn=parent_death_signal)
    return SimUnit(device_id, profile, workdir, modem, proc, log)

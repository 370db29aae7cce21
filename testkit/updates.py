"""Helpers for the update tests: tiny release wheels built on the fly, a
signed repository served over real HTTP, a unit with A/B slots, and a small
supervisor standing in for systemd's ``Restart=always``.

Why wheels are zipped here rather than built with pip: a wheel of
``siaga``/``protocol``/``firmware`` with a bumped version is all a slot needs
(its dependencies come from the dev venv through
``updates.shared_site_packages``), and zipping takes milliseconds where a
setuptools build takes seconds on the loaded test machine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import sysconfig
import threading
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import yaml

from central.release.bundle import build
from central.release.keys import generate_key, sign_release, sign_root
from central.release.serve import RangeHandler, make_server, serve_in_thread
from firmware.agent import bootguard as bg
from firmware.agent.updfetch import install_slot
from testkit.wait import wait_for

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("siaga", "protocol", "firmware")
SHARED = [Path(sysconfig.get_paths()["purelib"])]
BOOTGUARD = REPO / "firmware" / "agent" / "bootguard.py"

#: appended to firmware/agent/health.py in a "bad" build: its self-test always fails
BROKEN_SELF_TEST = '''

_orig_self_test = Health.self_test


def _broken_self_test(self, *args):
    r = _orig_self_test(self, *args)
    r["ok"] = False
    self.self_test_faults = ["self_test:broken_build"]
    return r


Health.self_test = _broken_self_test
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _requires() -> str:
    """Requires-Dist lines of the project and its ``[firmware]`` extra (pyproject.toml)."""
    import tomllib
    proj = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = [f"Requires-Dist: {r}" for r in proj["dependencies"]]
    for r in proj["optional-dependencies"]["firmware"]:
        req, _, marker = r.partition(";")
        cond = f'({marker.strip()}) and extra == "firmware"' if marker else 'extra == "firmware"'
        lines.append(f"Requires-Dist: {req.strip()}; {cond}")
    return "".join(line + "\n" for line in lines)


def make_wheel(version: str, out: Path, *, patches: dict[str, str] | None = None,
               requires: bool = False) -> Path:
    """``siaga112-<version>-py3-none-any.whl`` from this checkout's sources;
    ``patches`` appends text to files (e.g. a broken self-test); ``requires``
    declares the real dependencies (for a full bundle)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"siaga112-{version}-py3-none-any.whl"
    info = f"siaga112-{version}.dist-info"
    records = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        def add(name: str, data: bytes) -> None:
            z.writestr(name, data)
            records.append(_record_line(name, data))
        for pkg in PACKAGES:
            for f in sorted((REPO / pkg).rglob("*")):
                if f.is_dir() or "__pycache__" in f.parts or f.suffix not in (".py", ".yaml"):
                    continue
                rel = f.relative_to(REPO).as_posix()
                data = f.read_bytes()
                if rel == "siaga/__init__.py":
                    data = f'"""Siaga 112 (test build)."""\n\n__version__ = "{version}"\n'.encode()
                if patches and rel in patches:
                    data += patches[rel].encode()
                add(rel, data)
        add(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: siaga112\nVersion: {version}\n"
                                f"Provides-Extra: firmware\n{_requires() if requires else ''}".encode())
        add(f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: siaga-tests\nRoot-Is-Purelib: true\n"
                             b"Tag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "\n".join([*records, f"{info}/RECORD,,"]) + "\n")
    return path


class Release:
    """A signed release repository on disk, served over real HTTP with Range."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.repo = tmp / "repo"
        self.root_key, self.targets_key = tmp / "keys" / "root.key", tmp / "keys" / "targets.key"
        self.root_pub = generate_key(self.root_key)
        self.targets_pub = generate_key(self.targets_key)
        sign_root(self.repo, self.root_key, [self.targets_pub])
        self.handler = _CountingHandler
        _CountingHandler.log = []
        _CountingHandler.cut_once = set()
        self.server = make_server(self.repo, "127.0.0.1", 0, handler=_CountingHandler)
        serve_in_thread(self.server)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, version: str, **patch: Any) -> Path:
        wheel = make_wheel(version, self.tmp / "wheels", patches=patch.pop("patches", None))
        build(self.repo, version, wheels=[wheel], deps=False)
        sign_release(self.repo, version, self.targets_key, **patch)
        return self.repo / version

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _CountingHandler(RangeHandler):
    """Logs each request (path, Range); cuts a listed file after half its bytes, once."""

    log: ClassVar[list[tuple[str, str | None]]] = []
    cut_once: ClassVar[set[str]] = set()

    def send_head(self) -> Any:
        type(self).log.append((self.path, self.headers.get("Range")))
        f = super().send_head()
        name = self.path.rsplit("/", 1)[-1]
        if f is not None and name in type(self).cut_once:
            type(self).cut_once.discard(name)
            self._left = max(1, self._left // 2)  # then the connection closes: a cut
            self.close_connection = True
        return f


def unit_config(tmp: Path, broker: Any, release: Release, *, device: str = "box-001",
                confirm_s: float = 20.0, **updates: Any) -> Path:
    cfg = {
        "device_id": device, "profile": "field",
        "location": {"lat": -7.63, "lon": 111.52, "label": "Jl. Pahlawan 12", "area": "Taman"},
        "broker": {"host": broker.host, "port": broker.port, "session_expiry_s": 3600},
        "storage": {"path": str(tmp / "unit.db"), "min_free_mb": 0, "critical_reserve_mb": 0},
        "timings": {"ack_timeout_s": 2.0, "retry_base_s": 0.2, "retry_max_s": 1.0, "loop_tick_s": 0.1},
        "heartbeat_s": 5, "clock_synced": False, "reboot_command": ["true"],
        "sim_control": str(tmp / "ctl.sock"),
        "updates": {"dir": str(tmp / "update"), "base_url": release.url, "root_keys": [release.root_pub],
                    "confirm_s": confirm_s, "max_attempts": 3, "download_retries": 5,
                    "download_timeout_s": 10, "shared_site_packages": [str(p) for p in SHARED], **updates},
    }
    path = tmp / "unit.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def factory_install(release: Release, update_dir: Path, version: str) -> Path:
    """The first image of a unit: slot ``a`` with ``version``, ``current`` -> a."""
    slot = update_dir / "slots" / "a"
    install_slot(slot, release.repo / version, f"siaga112[firmware]=={version}", shared=SHARED)
    bg.point_current(update_dir, slot)
    return slot


class Supervisor:
    """Stands in for systemd (``Restart=always``): runs the boot guard, which
    execs the current slot's agent; restarts it whenever it exits."""

    def __init__(self, config: Path, update_dir: Path, log_path: Path) -> None:
        self.config, self.update_dir, self.log_path = config, update_dir, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exits: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(GPIOZERO_PIN_FACTORY="mock", SIAGA_LOG_LEVEL="INFO")
        with open(self.log_path, "ab") as logf:
            while not self._stop.is_set():
                self.starts += 1
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", str(BOOTGUARD), "--state", str(self.update_dir), "--",
                     "-m", "firmware.agent", "--config", str(self.config)],
                    stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=str(self.update_dir))
                self.exits.append(self.proc.wait())
                self._stop.wait(0.3)  # RestartSec

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def kill_agent(self) -> None:
        """SIGKILL the agent (a power cut as far as it can tell); we restart it."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def stop(self) -> None:
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._thread.join(20)

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def ask(sock: Path, line: str, timeout: float = 30.0) -> str:
    """One request on the agent's test control socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.decode().strip()
    finally:
        s.close()


def try_ask(sock: Path, line: str) -> str | None:
    with contextlib.suppress(OSError):
        return ask(sock, line, timeout=5)
    return None


def state(update_dir: Path) -> dict[str, Any]:
    return json.loads((update_dir / "state.json").read_text()) if (update_dir / "state.json").exists() else {}


class Centre:
    """The central side of the contract, small: sends commands (MQTT 5 request/
    response) and keeps each unit's last status, telemetry and replies."""

    def __init__(self, broker: Any) -> None:
        from protocol.mqtt import BrokerSettings, connect, make_client
        from protocol.topics import DeviceTopic, device_filter

        self.settings = BrokerSettings(host=broker.host, port=broker.port, session_expiry_s=0)
        self.client = make_client("test-centre", self.settings)
        self.lock = threading.Lock()
        self.status: dict[str, Any] = {}
        self.telemetry: dict[str, Any] = {}
        self.replies: dict[str, Any] = {}
        self.updates: list[tuple[str, str, str, str | None]] = []  # (device, version, state, error)
        self.ready = threading.Event()

        def on_connect(client: Any, *_a: Any) -> None:
            client.subscribe([(device_filter(DeviceTopic.STATUS), 1),
                              (device_filter(DeviceTopic.TELEMETRY), 0),
                              (device_filter(DeviceTopic.CMD_RES), 1)])

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_a: self.ready.set()  # SUBACK: nothing is missed from here
        self.client.on_message = self._on_message
        connect(self.client, self.settings)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise TimeoutError("centre did not connect and subscribe")

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        from protocol.codec import decode_device_message
        from protocol.fleet import CommandResult, Status, Telemetry

        if not msg.payload:
            return
        parsed, m = decode_device_message(msg.topic, msg.payload)
        with self.lock:
            if isinstance(m, Status):
                self.status[parsed.device] = m
            elif isinstance(m, Telemetry):
                self.telemetry[parsed.device] = m
                if m.update is not None:
                    key = (parsed.device, m.update.version, m.update.state.value, m.update.error)
                    if not self.updates or self.updates[-1] != key:
                        self.updates.append(key)
            elif isinstance(m, CommandResult):
                self.replies[m.command_id] = m

    def command(self, device: str, name: str, args: dict[str, Any] | None = None,
                timeout: float = 30.0) -> Any:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from protocol.codec import encode
        from protocol.fleet import Command
        from protocol.topics import DeviceTopic, device_topic

        cmd = Command(name=name, args=args or {})
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = device_topic(device, DeviceTopic.CMD_RES)
        props.CorrelationData = cmd.id.encode()
        self.client.publish(device_topic(device, DeviceTopic.CMD), encode(cmd), qos=1, properties=props)
        return wait_for(lambda: self.replies.get(cmd.id), timeout, what=f"reply to {name}")

    def firmware(self, device: str) -> str | None:
        st = self.status.get(device)
        return st.firmware if st is not None and st.state == "online" else None

    def update_state(self, device: str) -> tuple[str, str, str | None] | None:
        t = self.telemetry.get(device)
        return (t.update.version, t.update.state.value, t.update.error) if t and t.update else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

"""For the agent tests and benchmarks: a centre-side ack responder, an
in-process agent runner, a subprocess agent with its control socket,
config writing, and what each press did."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from protocol.codec import decode_device_message, encode
from protocol.mqtt import BrokerSettings, connect, make_client
from protocol.reports import Ack, AckItem
from protocol.topics import DeviceTopic, device_filter, device_topic
from testkit.wait import wait_for

REPO = Path(__file__).resolve().parents[1]

__all__ = ["REPO", "AgentProcess", "AgentThread", "Responder", "base_config", "presses", "wait_for",
           "write_config"]


class Responder:
    """Stands in for the gateway: stores incidents and call records by id
    (exactly once, like an idempotent ingest) and acks each one."""

    def __init__(self, broker: Any, *, client_id: str = "test-gateway", ack: bool = True,
                 persistent: bool = False) -> None:
        # persistent: like a real gateway, keep the subscription and queue across a broker restart
        self.persistent = persistent
        self.settings = BrokerSettings(host=broker.host, port=broker.port,
                                       session_expiry_s=3600 if persistent else 0)
        self.client = make_client(client_id, self.settings)
        self.lock = threading.Lock()
        self.stored: dict[str, Any] = {}  # id -> message (first arrival)
        self.order: list[tuple[str, str, int]] = []  # (device, id, seq) in first-arrival order
        self.received = 0
        self.duplicates = 0
        self.arrivals: dict[str, float] = {}  # id -> monotonic first arrival
        self.ack = ack
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()

    def _on_connect(self, client: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            client.subscribe([(device_filter(DeviceTopic.INCIDENT), 1), (device_filter(DeviceTopic.CALL), 1)])
            self.connected.set()

    def _on_message(self, client: Any, _u: Any, msg: Any) -> None:
        parsed, m = decode_device_message(msg.topic, msg.payload)
        with self.lock:
            self.received += 1
            if m.id in self.stored:
                self.duplicates += 1
            else:
                self.stored[m.id] = m
                self.order.append((parsed.device, m.id, m.seq))
                self.arrivals[m.id] = time.monotonic()
            ack = self.ack
        if ack:
            a = Ack(stored=[AckItem(id=m.id, seq=m.seq, case=f"C-{m.seq}")])
            client.publish(device_topic(parsed.device, DeviceTopic.ACK), encode(a), qos=1)

    def start(self) -> Responder:
        connect(self.client, self.settings, clean_start=not self.persistent)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise TimeoutError("responder did not connect")
        if not self.subscribed.wait(10):
            raise TimeoutError("responder's subscription was not acknowledged")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def of_kind(self, cls: type) -> list[Any]:
        with self.lock:
            return [m for m in self.stored.values() if isinstance(m, cls)]


def write_config(path: Path, **fields: Any) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def base_config(tmp_path: Path, broker: Any, *, device_id: str = "box-001", profile: str = "field",
                **extra: Any) -> dict[str, Any]:
    timings = {"ack_timeout_s": 2.0, "retry_base_s": 0.2, "retry_max_s": 1.0, "loop_tick_s": 0.1}
    timings.update(extra.pop("timings", {}))
    cfg: dict[str, Any] = {
        "device_id": device_id,
        "profile": profile,
        "location": {"lat": -7.63, "lon": 111.52, "label": "Jl. Pahlawan 12", "area": "Taman"},
        "broker": {"host": broker.host, "port": broker.port, "session_expiry_s": 3600},
        "storage": {"path": str(tmp_path / f"{device_id}.db"), "min_free_mb": 0, "critical_reserve_mb": 0},
        "timings": timings,
        "clock_synced": False,
        "reboot_command": ["true"],
    }
    cfg.update(extra)
    return cfg


def presses(agent: Any) -> dict[str, Any]:
    """What each press of an in-process agent did: button -> deque of
    ``(status, id)`` (attached by :class:`AgentThread`, before any press)."""
    from firmware.agent.simcontrol import PressLog

    return PressLog.of(agent).results


class AgentThread:
    """Runs an in-process Agent's loop on a thread (mock pins set by the test)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        presses(agent)  # the log is attached before the first press
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.code = self.agent.run()

    def start(self) -> AgentThread:
        self.thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.agent.request_stop(0)
        self.thread.join(timeout)

    def wait_connected(self, timeout: float = 15.0) -> None:
        wait_for(lambda: self.agent.link.connected and self.agent.link.subscribed.is_set(), timeout,
                 what="agent connected and subscribed")


class AgentProcess:
    """`python -m siaga unit --config ...` as a real subprocess with mock pins."""

    def __init__(self, config_path: Path, sock: Path, log_path: Path, *, lean: bool = False,
                 wrap: list[str] | None = None) -> None:
        # wrap: a command prefix, e.g. ["ip", "netns", "exec", "ns1"] (test_dead_link)
        self.wrap = list(wrap or [])
        # lean: `python -m firmware.agent` (same runner, no Typer) instead of `python -m siaga unit`
        self.lean = lean
        self.config_path = config_path
        self.sock = sock
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: socket.socket | None = None
        self.file: Any = None

    def start(self, timeout: float = 30.0) -> AgentProcess:
        env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", PYTHONPATH=str(REPO))
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()
        self.logf = open(self.log_path, "ab")  # noqa: SIM115
        entry = ["firmware.agent"] if self.lean else ["siaga", "unit"]
        argv = [*self.wrap, sys.executable, "-m", *entry, "--config", str(self.config_path)]
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
        proc = self.proc

        def control_socket() -> socket.socket | None:
            if proc.poll() is not None:
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"agent exited {proc.returncode}: {tail}")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(self.sock))
            except OSError:
                s.close()
                return None
            return s

        s = wait_for(control_socket, timeout, interval=0.02, what="the agent's control socket")
        s.settimeout(60)
        self.conn = s
        self.file = s.makefile("rw", encoding="utf-8", newline="\n")
        return self

    def ask(self, line: str) -> str:
        self.file.write(line + "\n")
        self.file.flush()
        reply = self.file.readline()
        if not reply:
            raise ConnectionError("agent closed the control socket")
        return reply.strip()

    def state(self) -> dict[str, Any]:
        return json.loads(self.ask("state"))

    def press(self, button: str) -> tuple[str, str]:
        status, ref = self.ask(f"press {button}").split(" ", 1)
        return status, ref

    def kill(self) -> None:
        """SIGKILL: a power cut as far as the agent can tell."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def terminate(self, timeout: float = 15.0) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout)
        self._close()
        return self.proc.returncode if self.proc else None

    def _close(self) -> None:
        for c in (self.file, self.conn):
            with contextlib.suppress(Exception):
                c.close()
        self.file = self.conn = None
        with contextlib.suppress(Exception):
            self.logf.close()

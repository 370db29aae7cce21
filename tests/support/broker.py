"""A private Mosquitto 2.x for the tests, on a free loopback port.

The suite starts its own broker (never the machine's), can stop and restart
it on the same port mid-test, and removes it afterwards. Two variants:
anonymous, and secured with a password file and the site ACL (``%u``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from central.broker.mosquitto import BrokerConfig, render_acl, render_config
from central.broker.passwords import hash_password, write_password_file


def find_mosquitto() -> str:
    """Path of the mosquitto binary, or a clear failure (never a skip)."""
    path = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None
    )
    if not path:
        raise RuntimeError(
            "mosquitto not found: run `make test` (it installs it) or `sudo apt-get install mosquitto`"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One Mosquitto process under the test's control."""

    def __init__(self, workdir: Path, *, secure: bool = False, users: dict[str, str] | None = None,
                 services: dict[str, str] | None = None, **overrides: object) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = "127.0.0.1"
        self.secure = secure
        self.users = dict(users or {})
        self.services = dict(services or {})
        self.conf_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None
        cfg = BrokerConfig(
            port=self.port,
            bind="127.0.0.1",
            anonymous=not secure,
            password_file=workdir / "passwd" if secure else None,
            acl_file=workdir / "acl" if secure else None,
            persistence_dir=workdir / "data",
            log_file=self.log_path,
            # started as root, mosquitto drops to user "mosquitto", who cannot read tmp_path
            run_as_user="root" if os.geteuid() == 0 else None,
            **overrides,  # type: ignore[arg-type]
        )
        (workdir / "data").mkdir(exist_ok=True)
        self.config = cfg
        self.write_files()

    def write_files(self) -> None:
        """(Re)write config, password file and ACL from the current users."""
        self.conf_path.write_text(render_config(self.config))
        if self.secure:
            write_password_file(self.workdir / "passwd",
                                {u: hash_password(p) for u, p in self.users.items()})
            (self.workdir / "acl").write_text(render_acl(services=self.services))

    def add_user(self, user: str, password: str, *, service: str | None = None) -> None:
        """Add a user (``service``: its access on ``siaga/v1/#``); call reload()."""
        self.users[user] = password
        if service:
            self.services[user] = service
        self.write_files()

    def remove_user(self, user: str) -> None:
        self.users.pop(user, None)
        self.services.pop(user, None)
        self.write_files()

    def start(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            return
        self.proc = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"mosquitto exited at start: {err}\n{log}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
                return
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGTERM: the broker saves its persistent sessions)."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """Stop abruptly, as a power cut would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def reload(self) -> None:
        """SIGHUP: re-read password file and ACL (how revocation takes effect)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)

    @property
    def running(self) -> bool:
        return bool(self.proc and self.proc.poll() is None)

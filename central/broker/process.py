"""Run a Mosquitto 2.x process from a generated configuration.

Used by `siaga demo` (a private broker for the demo site) and by the test
suite (a private broker per test that it can stop, restart and reload). It
runs the broker as production does: started as root, Mosquitto drops to its
user (``mosquitto``), so the files it reads are group-readable by that user
(:mod:`central.broker.files`) and what it writes (pid file, log, sessions)
lives in ``var/``, owned by it. There is no run-as-root special case.
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

from central.broker.files import DEFAULT_BROKER_USER, broker_ids, unreadable_by, write_broker_file
from central.broker.mosquitto import BrokerConfig, render_acl
from central.broker.passwords import hash_password, write_password_file
from central.broker.site import write_conf
from central.errors import FleetError


class BrokerNotFound(FleetError, FileNotFoundError):
    """The mosquitto binary is not installed."""


class BrokerStartError(FleetError, RuntimeError):
    """Mosquitto exited or did not listen."""


def find_mosquitto() -> str:
    """Path of the mosquitto binary, or a clear error saying how to install it."""
    path = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None
    )
    if not path:
        raise BrokerNotFound(
            "mosquitto tidak ditemukan / not found: sudo apt-get install mosquitto "
            "(or run `make test` / `make demo`, which install it)"
        )
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _PortTaken(Exception):
    """Mosquitto exited because its port was taken (internal: start() retries)."""


def parent_death_signal() -> None:
    """In a child before it runs (``preexec_fn``), Linux: SIGTERM it when the
    thread that started it dies, however that dies (a SIGKILLed demo left its
    units running). Start such children from a thread that lives as long as
    the program (the main thread). Linux forgets it when the child changes its
    user (Mosquitto started as root): for a broker see
    :meth:`MosquittoProcess.stop_stale`. Elsewhere: nothing."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class MosquittoProcess:
    """One Mosquitto process with its config, password file and ACL in ``workdir``.

    ``secure=False`` is anonymous (tests, demo only); ``secure=True`` writes a
    password file from ``users`` and the site ACL with ``services`` users.
    """

    def __init__(self, workdir: Path, *, port: int | None = None, secure: bool = False,
                 users: dict[str, str] | None = None, services: dict[str, str] | None = None,
                 **overrides: object) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self._port_chosen_here = port is None  # may move to another free port if taken at start
        self.secure = secure
        self.users = dict(users or {})
        self.services = dict(services or {})
        self.conf_path = workdir / "mosquitto.conf"
        self.var_dir = workdir / "var"  # what the broker writes: pid file, log, sessions
        self.log_path = self.var_dir / "mosquitto.log"
        self.pid_path = self.var_dir / "mosquitto.pid"
        self.proc: subprocess.Popen[bytes] | None = None
        #: in a process group of its own: a terminal's Ctrl-C (SIGINT to the foreground
        #: group) then reaches only the program that started it, which stops it last
        #: (siaga demo: a broker gone first publishes every unit's will)
        self.own_process_group = False
        settings: dict[str, object] = {
            "port": self.port,
            "bind": self.host,
            "anonymous": not secure,
            "password_file": workdir / "passwd" if secure else None,
            "acl_file": workdir / "acl" if secure else None,
            "persistence_dir": self.var_dir / "data",
            "log_file": self.log_path,
            "pid_file": self.pid_path,
            # as production: named in the config; Mosquitto uses it only when started as root
            "run_as_user": DEFAULT_BROKER_USER,
        }
        settings.update(overrides)
        self.config = BrokerConfig.model_validate(settings)
        self._prepare_dirs()
        self.write_files()

    def _prepare_dirs(self) -> None:
        """``var/`` (and the sessions folder) belong to the user the broker drops to."""
        (self.var_dir / "data").mkdir(parents=True, exist_ok=True)
        ids = broker_ids(self.config.run_as_user)
        if os.geteuid() == 0 and ids is not None:
            for d in (self.var_dir, self.var_dir / "data"):
                os.chown(d, *ids)
                d.chmod(0o750)

    def write_files(self) -> None:
        """(Re)write config, password file and ACL from the current users."""
        user = self.config.run_as_user
        write_conf(self.conf_path, self.config)
        if self.secure:
            write_password_file(self.workdir / "passwd",
                                {u: hash_password(p) for u, p in self.users.items()}, broker_user=user)
            write_broker_file(self.workdir / "acl", render_acl(services=self.services), user=user)

    def check_readable(self) -> None:
        """Started as root, the broker reads its files as ``run_as_user``:
        say which one it could not read, before it fails with a vaguer line."""
        user = self.config.run_as_user
        if os.geteuid() != 0 or not user:
            return
        files = [p for p in (self.config.password_file, self.config.acl_file) if p is not None]
        bad = unreadable_by(user, files)
        if bad:
            raise BrokerStartError(
                f"pengguna broker {user} tidak dapat membaca / the broker's user {user} cannot "
                f"read: {', '.join(map(str, bad))} (a folder on the way or the file itself)")

    def add_user(self, user: str, password: str, *, service: str | None = None) -> None:
        """Add a user (``service``: its access on ``siaga/v1/#``); then reload()."""
        self.users[user] = password
        if service:
            self.services[user] = service
        self.write_files()

    def remove_user(self, user: str) -> None:
        self.users.pop(user, None)
        self.services.pop(user, None)
        self.write_files()

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until it listens. A port this object chose itself
        (``port=None``) can be taken by another process between choosing and
        binding (parallel test workers, the demo next to a test run): then it
        moves to a new free port, up to five times, instead of failing."""
        for attempt in range(5):
            try:
                self._start_once(timeout)
                return
            except _PortTaken:
                if not self._port_chosen_here or attempt == 4:
                    raise BrokerStartError(f"port {self.port} sudah dipakai / is already in use") from None
                self.port = free_port(self.host)
                self.config = self.config.model_copy(update={"port": self.port})
                write_conf(self.conf_path, self.config)

    def stop_stale(self, timeout: float = 10.0) -> int | None:
        """Stop a broker of this workdir that a program killed outright left
        running (its pid file names it and its command line names this
        config); returns its pid, or None when there was none."""
        try:
            pid = int(self.pid_path.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return None
        if str(self.conf_path).encode() not in cmdline:
            return None  # the pid is another process's now
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
        return pid

    def _start_once(self, timeout: float) -> None:
        if self.running:
            return
        self.check_readable()
        log_from = self.log_path.stat().st_size if self.log_path.exists() else 0  # this start's lines
        self.proc = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            process_group=0 if self.own_process_group else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = self.log_path.read_bytes()[log_from:].decode(errors="replace") \
                    if self.log_path.exists() else ""
                if "Address already in use" in err + log:
                    raise _PortTaken
                raise BrokerStartError(f"mosquitto exited at start: {err}\n{log}")
            # "running" is logged once every listener is bound: a bare connect could
            # reach another process that holds the port
            if self._logged_running(log_from):
                with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
                    return
            time.sleep(0.02)
        raise BrokerStartError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def _logged_running(self, log_from: int) -> bool:
        if self.config.log_file is None:  # logging to stderr: the connect check alone
            return True
        try:
            with Path(self.config.log_file).open("rb") as f:
                f.seek(log_from)
                return b" running" in f.read()
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGTERM: the broker saves its persistent sessions)."""
        if not self.running:
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """Stop abruptly, as a power cut would."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def reload(self, settle: float = 0.3) -> None:
        """SIGHUP: re-read password file and ACL (how revocation takes effect)."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(settle)

    @property
    def running(self) -> bool:
        return bool(self.proc and self.proc.poll() is None)

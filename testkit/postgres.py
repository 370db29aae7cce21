"""The suite's private PostgreSQL: its own cluster on a Unix socket.

``initdb`` + ``pg_ctl`` from the distribution's package (on Debian
``/usr/lib/postgresql/<ver>/bin``) on a temporary directory: no TCP listener,
never the server the machine may happen to run. initdb refuses to run as
root, so as root the cluster belongs to the package's ``postgres`` user (or
``nobody``) and its programs run through ``runuser``. The superuser's password
holds characters a URL must escape (``@ : / %``), so every database test also
proves that such a URL works. Durability is switched off (``fsync=off``): the
cluster is thrown away after the run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

USER = "siaga"
LOCAL_USER = "siaga_local"


class PostgresNotFound(FileNotFoundError):
    """initdb/pg_ctl are not installed."""


def find_pg_bin() -> Path:
    """The folder holding initdb and pg_ctl (newest packaged version first)."""
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
                   reverse=True)
    on_path = shutil.which("initdb")
    for c in [*cands, on_path]:
        if c and os.access(c, os.X_OK) and os.access(Path(c).with_name("pg_ctl"), os.X_OK):
            return Path(c).resolve().parent
    raise PostgresNotFound(
        "initdb (PostgreSQL) tidak ditemukan / not found: sudo apt-get install postgresql "
        "(or run `make test`, which installs it)")


def _owner() -> str | None:
    """The unprivileged user to run the cluster as when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresNotFound("no unprivileged user (postgres, nobody) to run initdb as")


class PostgresCluster:
    """A throw-away cluster; ``url(db)`` gives a password + Unix-socket URL."""

    def __init__(self, *, durable: bool = False) -> None:
        #: durable: fsync and synchronous commit on, as production (benchmarks)
        self.durable = durable
        self.bin = find_pg_bin()
        self.password = f"p@ss:w/rd%{secrets.token_hex(4)}"
        self.owner = _owner()
        # short path: a Unix socket path must fit in 107 bytes
        self.root = Path(tempfile.mkdtemp(prefix="siaga-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.running = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.owner:
            cmd = ["runuser", "-u", self.owner, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> PostgresCluster:
        self.socket_dir.mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.owner:
            pw = pwd.getpwnam(self.owner)
            for p in (self.root, self.socket_dir, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        r = self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        pwfile.unlink()
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()}")
        # one role may log in over the socket without a password (the
        # "local server, peer/trust" URL form); everyone else needs it
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"local all {LOCAL_USER} trust\n" + hba.read_text())
        opts = (f"-c listen_addresses='' -c unix_socket_directories={self.socket_dir} "
                "-c max_connections=300")
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        r = self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
                      "-o", opts)
        if r.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()}\n{log[-2000:]}")
        self.running = True
        self._admin(f"CREATE ROLE {LOCAL_USER} LOGIN SUPERUSER")
        return self

    def stop(self) -> None:
        if self.running:
            r = self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(self.data))
            self.running = r.returncode != 0
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg",
            password: bool = True) -> str:
        """``driver://siaga:<escaped password>@/<database>?host=<socket dir>``, or
        without a password as the role allowed to log in over the socket without one."""
        user = f"{USER}:{quote(self.password, safe='')}" if password else LOCAL_USER
        return f"{driver}://{user}@/{database}?host={self.socket_dir}"

    def configure(self, settings: dict[str, str]) -> None:
        """``ALTER SYSTEM SET`` each setting and reload (settings a reload can
        change, e.g. ``wal_compression``; benchmarks compare them)."""
        for name, value in settings.items():
            if not name.replace("_", "").replace(".", "").isalnum():
                raise ValueError(f"not a setting name: {name!r}")
            self._admin(f"ALTER SYSTEM SET {name} = '{value.replace(chr(39), chr(39) * 2)}'")
        self._admin("SELECT pg_reload_conf()")

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user=USER, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"t_{secrets.token_hex(6)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY FILE_COPY')
        return name

    def connections(self, name: str) -> int:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user=USER, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                               [name]).fetchone()
        return int(row[0]) if row else 0

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

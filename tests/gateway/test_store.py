"""The device registry API, migrations, the CLI's migrate/create-user."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import auth
from gateway.errors import DuplicateDevice, UnknownDevice
from gateway.store import devices
from gateway.store.db import Database, current_revision, head_revision

SIAGA = shutil.which("siaga") or str(Path(sys.executable).parent / "siaga")


@pytest.fixture
def db(db_url):
    d = Database(db_url)
    d.migrate()
    yield d
    d.dispose()


def test_device_registry_api(db):
    with db.session() as s:
        devices.add(s, "box-02", profile="field", label="Jl. Pahlawan", area="Taman")
        devices.add(s, "panel-01", profile="panel")
        with pytest.raises(DuplicateDevice):
            devices.add(s, "box-02", profile="field")
        with pytest.raises(ValueError, match="invalid device id"):
            devices.add(s, "Box/02", profile="field")
        with pytest.raises(ValueError):
            devices.add(s, "box-03", profile="toaster")
    with db.session() as s:
        assert [d.id for d in devices.list_devices(s)] == ["box-02", "panel-01"]
        devices.set_enabled(s, "box-02", False)
        assert [d.id for d in devices.list_devices(s, enabled=True)] == ["panel-01"]
        assert [d.id for d in devices.list_devices(s, profile="field")] == ["box-02"]
        d = devices.update(s, "panel-01", label="Meja 1")
        assert d.label == "Meja 1"
        with pytest.raises(TypeError):
            devices.update(s, "panel-01", enabled=True)
        with pytest.raises(UnknownDevice):
            devices.get(s, "nope")
    with db.session() as s:
        d = devices.get(s, "box-02")
        assert d.enabled is False and d.area == "Taman" and d.created_at.tzinfo is not None


def test_migrations_are_at_head_and_rerunnable(db):
    db.migrate()
    assert current_revision(db.engine) == head_revision()


def test_sqlite_runs_wal_with_full_sync(tmp_path):
    d = Database(f"sqlite:///{tmp_path / 'g.db'}")
    with d.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    d.dispose()


def test_passwords_are_argon2_and_roles_checked(db):
    with db.session() as s:
        u = auth.create_user(s, "op1", "long-enough-pw", "operator")
        assert u.password_hash.startswith("$argon2")
        with pytest.raises(auth.AuthError):
            auth.create_user(s, "op2", "short", "operator")
        with pytest.raises(auth.AuthError):
            auth.create_user(s, "opd1", "long-enough-pw", "opd")  # needs an OPD
        with pytest.raises(auth.AuthError):
            auth.create_user(s, "op1", "long-enough-pw", "operator")
    with db.session() as s:
        assert auth.authenticate(s, "op1", "long-enough-pw").username == "op1"
        assert auth.authenticate(s, "op1", "wrong-password") is None
        assert auth.authenticate(s, "ghost", "long-enough-pw") is None


def cli_migrate(tmp_path: Path, url: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A minimal site file on ``url`` and the result of ``siaga gateway migrate`` on it."""
    site = tmp_path / "site.yaml"
    site.write_text(f"""
mode: demo
site: {{name: X, case_prefix: XX}}
gateway: {{database_url: "{url}"}}
opds: [{{id: damkar, name: Damkar}}]
""")
    return site, subprocess.run([SIAGA, "gateway", "--config", str(site), "migrate"], capture_output=True,
                                text=True, timeout=60)


@pytest.mark.parametrize("form", ["sqlite", "postgresql", "postgresql+psycopg", "socket-no-password"])
def test_cli_migrate_and_create_user(tmp_path, form, pg_databases):
    """Every documented URL form works through the CLI; PostgreSQL over a Unix
    socket (``?host=<dir>``) with a password that needs escaping (@ : / %),
    which never shows in the output, or without one (local trust/peer)."""
    if form == "sqlite":
        url, secret = f"sqlite:///{tmp_path / 'cli.db'}", None
    elif form == "socket-no-password":
        url, secret = pg_databases.new(driver="postgresql", password=False), None
        assert url.startswith("postgresql://siaga_local@/") and "?host=/" in url
    else:
        url, secret = pg_databases.new(driver=form), pg_databases.cluster.password
        assert url.startswith(f"{form}://") and "%40" in url and "%25" in url and "?host=/" in url
    site, r = cli_migrate(tmp_path, url)
    assert r.returncode == 0, r.stderr
    assert head_revision() in r.stdout
    pw = tmp_path / "pw"
    pw.write_text("damkar-password-1\n")
    r2 = subprocess.run([SIAGA, "gateway", "--config", str(site), "create-user", "damkar1", "--role", "opd",
                         "--opd", "damkar", "--password-file", str(pw), "--token"],
                        capture_output=True, text=True, timeout=60)
    assert r2.returncode == 0, r2.stderr
    assert "damkar1" in r2.stdout and "token: sg_" in r2.stdout
    bad = subprocess.run([SIAGA, "gateway", "--config", str(site), "create-user", "x1", "--role", "opd",
                          "--opd", "nope", "--password-file", str(pw)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and "unknown OPD" in bad.stderr
    d = Database(url)
    with d.session() as s:
        assert auth.authenticate(s, "damkar1", "damkar-password-1").opd == "damkar"
    d.dispose()
    if secret:
        from urllib.parse import quote

        out = r.stdout + r.stderr + r2.stdout + r2.stderr
        assert secret not in out and quote(secret, safe="") not in out


def test_cli_migrate_with_a_wrong_password_fails_clearly(tmp_path, pg_databases):
    good = pg_databases.new()
    url = good.replace("p%40ss", "wrong%40ss")
    _, r = cli_migrate(tmp_path, url)
    assert r.returncode == 1
    assert "password authentication failed" in r.stderr and "siaga:***@" in r.stderr
    assert "wrong%40ss" not in r.stderr and "wrong@ss" not in r.stderr
    assert "Traceback" not in r.stderr


def test_database_urls_keep_the_password_and_escape_it_for_alembic():
    """No connection needed: the URL the engine and Alembic get is the one
    given (SQLAlchemy's str(URL) would have masked the password), for the
    TCP form too; log lines get the masked form."""
    from gateway.store.db import alembic_config, database_url, make_engine, safe_url

    raw = "postgresql://siaga:p%40ss%3Aw%2Frd%25@db.example:5433/siaga"
    u = database_url(raw)
    assert u.drivername == "postgresql+psycopg" and u.password == "p@ss:w/rd%"
    assert u.host == "db.example" and u.port == 5433
    eng = make_engine(raw)
    try:
        assert eng.url.password == "p@ss:w/rd%"
        cfg = alembic_config(eng)
        assert make_url_of(cfg.get_main_option("sqlalchemy.url")).password == "p@ss:w/rd%"
    finally:
        eng.dispose()
    assert safe_url(raw) == "postgresql://siaga:***@db.example:5433/siaga"
    sock = database_url("postgresql+psycopg://siaga:x%25y@/siaga?host=/run/postgresql")
    assert sock.query == {"host": "/run/postgresql"} and sock.password == "x%y"


def make_url_of(text: str | None):
    from sqlalchemy.engine import make_url

    assert text is not None
    return make_url(text)


def test_cli_runs_the_gateway_until_sigterm(tmp_path, broker):
    import signal
    import time

    import httpx

    from tests.support.broker import free_port

    port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(f"""
mode: demo
site: {{name: X, case_prefix: XX}}
broker: {{host: {broker.host}, port: {broker.port}}}
gateway: {{database_url: "sqlite:///{tmp_path / 'run.db'}", http: {{port: {port}}}, instance_id: cli}}
opds: [{{id: damkar, name: Damkar}}]
""")
    import os
    import socket

    sock_path = tmp_path / "notify.sock"
    notify_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_sock.bind(str(sock_path))
    notify_sock.settimeout(30)
    env = os.environ | {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen([SIAGA, "gateway", "--config", str(site)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert ready is not None
        assert ready.json()["checks"] == {"database": True, "mqtt": True, "workers": True}
        # systemd protocol: READY=1 once serving, then watchdog pings
        got = [notify_sock.recv(100).decode() for _ in range(2)]
        assert got == ["READY=1", "WATCHDOG=1"]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        msgs = []
        notify_sock.settimeout(0.5)
        while True:
            try:
                msgs.append(notify_sock.recv(100).decode())
            except TimeoutError:
                break
        assert msgs[-1] == "STOPPING=1"
    finally:
        notify_sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_weak_secrets_outside_demo(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("""
site: {name: X, case_prefix: XX}
broker: {username: gateway, password: changeme}
opds:
  - {id: damkar, name: Damkar, channels: {webhook: {url: "http://x/", secret: {value: secret}}}}
""")
    r = subprocess.run([SIAGA, "gateway", "--config", str(site)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "opds[0].channels.webhook.secret" in r.stderr and "broker.password" in r.stderr
    assert "changeme" not in r.stderr


def test_models_match_the_migrations(db_url):
    """A model change without a migration fails here (autogenerate finds a diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from gateway.store.models import Base

    d = Database(db_url)
    d.migrate()
    with d.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    d.dispose()
    assert diff == []


def test_every_cli_command_is_documented():
    from gateway.cli import app

    doc = (Path(__file__).parents[2] / "docs" / "gateway.md").read_text()
    names = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]
    assert names and all(f"siaga gateway --config site.yaml {n}" in doc or f"siaga gateway {n}" in doc
                         for n in names), names

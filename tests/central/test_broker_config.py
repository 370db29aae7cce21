"""`siaga admin broker gen-config` writes a site config that a real Mosquitto
runs: TLS listener, password file, ACL, persistence, limits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from central.broker.files import DEFAULT_BROKER_USER, broker_ids
from central.broker.reload import reload_broker
from central.errors import BrokerNotRunning, BrokerReloadError
from central.settings import ReloadSettings, load_settings
from tests.central.conftest import migrated_db_url
from tests.support.broker import find_mosquitto, free_port
from tests.support.mqtt import TestClient


def admin(conf: Path, *args: str):
    from tests.central.test_cli import admin_inproc  # same app; the subprocess path is tested elsewhere

    return admin_inproc(conf, *args)


def self_signed(dir_: Path) -> tuple[Path, Path]:
    cert, key = dir_ / "server.crt", dir_ / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def broker_var(root: Path) -> Path:
    """What Debian's package and unit give the broker's user: a folder it owns
    for its pid file, log and sessions."""
    var = root / "var"
    var.mkdir()
    ids = broker_ids(DEFAULT_BROKER_USER)
    if os.geteuid() == 0 and ids:
        os.chown(var, *ids)
    return var


@pytest.fixture
def tls_site(broker_dir):
    cert, key = self_signed(broker_dir)
    ids = broker_ids(DEFAULT_BROKER_USER)
    if os.geteuid() == 0 and ids:  # the broker reads its key after dropping to its user
        os.chown(key, 0, ids[1])
        key.chmod(0o640)
    var = broker_var(broker_dir)
    port = free_port()
    doc = {
        "gateway_db_url": migrated_db_url(broker_dir), "site_dir": "site", "bundle_dir": "bundles",
        "mosquitto": {"port": port, "bind": "127.0.0.1", "tls_cert": str(cert), "tls_key": str(key),
                      "persistence_dir": "var", "pid_file": "var/mosquitto.pid",
                      "log_file": "var/mosquitto.log"},
        "reload": {"pid_file": "var/mosquitto.pid"},
        "broker": {"host": "127.0.0.1", "port": port, "username": "admin", "password_file": "admin.pw",
                   "tls": True, "ca_file": str(cert)},
    }
    conf = broker_dir / "central.yaml"
    conf.write_text(yaml.safe_dump(doc))
    assert var.is_dir()
    return conf, cert, port


def test_gen_config_runs_a_tls_broker_with_limits(tls_site, broker_dir, monkeypatch):
    conf, _cert, port = tls_site
    tmp_path = broker_dir
    monkeypatch.chdir(tmp_path)  # `-c central.yaml`, relative: what is written is still absolute
    rel = Path("central.yaml")
    # the service user first: no broker runs yet, so the reload is skipped, said so, exit 0
    r = admin(rel, "broker", "user", "admin", "--password-file", str(tmp_path / "admin.pw"))
    assert r.returncode == 0, r.stderr
    assert "no broker running, reload skipped" in r.stdout
    assert (tmp_path / "admin.pw").stat().st_mode & 0o077 == 0
    assert "admin:$7$" in (tmp_path / "site" / "passwd").read_text()
    r = admin(rel, "broker", "gen-config")
    assert r.returncode == 0, r.stderr
    assert "cannot read" not in r.stderr
    text = (tmp_path / "site" / "mosquitto.conf").read_text()
    for line in (f"listener {port} 127.0.0.1", "allow_anonymous false", "set_tcp_nodelay true",
                 "persistence true", "max_queued_messages 100000", "max_packet_size 131072",
                 "tls_version tlsv1.2", f"password_file {tmp_path / 'site' / 'passwd'}",
                 f"acl_file {tmp_path / 'site' / 'acl'}", f"pid_file {tmp_path / 'var' / 'mosquitto.pid'}",
                 f"persistence_location {tmp_path / 'var'}/", "user mosquitto"):
        assert line in text.splitlines(), line
    for line in text.splitlines():  # every path in the generated file is absolute
        for word in line.split()[1:]:
            assert not word.startswith(("site/", "var/", "./")), line
    proc = subprocess.Popen([find_mosquitto(), "-c", str(tmp_path / "site" / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        settings = load_settings(conf)
        assert settings.broker.tls and settings.reload.pid_file == tmp_path / "var" / "mosquitto.pid"
        if os.geteuid() == 0:  # started as root, it runs as its own user, as in production
            uid = int(next(ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                           if ln.startswith("Uid:")).split()[1])
            assert uid == broker_ids(DEFAULT_BROKER_USER)[0]
        from gateway.fleet.link import Link

        with Link(settings.broker).start() as link:  # TLS, verified against the cert
            link.publish("siaga/v1/dev/box-1/cmd", b"x")
        # plain TCP to the TLS listener gets nowhere
        plain = TestClient(type("B", (), {"host": "127.0.0.1", "port": port})(), "plain",
                           username="admin", password=(tmp_path / "admin.pw").read_text().strip())
        rc = plain.try_start(timeout=0.5)  # no CONNACK ever comes: TLS expected
        assert rc is None or rc.is_failure
        plain.client.loop_stop()
        # reload by pid file reaches this broker
        assert reload_broker(settings.reload).startswith("SIGHUP pid")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_reload_errors_are_clear(tmp_path):
    with pytest.raises(BrokerNotRunning, match="no pid file"):
        reload_broker(ReloadSettings(pid_file=tmp_path / "missing.pid"))
    stale = tmp_path / "stale.pid"
    stale.write_text("999999\n")
    with pytest.raises(BrokerNotRunning, match="no process with pid 999999"):
        reload_broker(ReloadSettings(pid_file=stale))
    stale.write_text("garbage\n")
    with pytest.raises(BrokerReloadError, match="cannot read pid file"):
        reload_broker(ReloadSettings(pid_file=stale))
    with pytest.raises(BrokerReloadError, match="exited 1"):
        reload_broker(ReloadSettings(command=["false"]))
    assert reload_broker(ReloadSettings(command=["true"])) == "command true"
    assert reload_broker(ReloadSettings()).startswith("none")


def test_bad_central_config_names_the_key(tmp_path):
    conf = tmp_path / "central.yaml"
    conf.write_text("health: {late_factr: 3}\n")
    r = admin(conf, "devices")
    assert r.returncode == 2 and "health.late_factr" in r.stderr

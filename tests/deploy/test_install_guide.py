"""docs/install.md, followed step by step: the gateway host's commands as the
page writes them (tests/deploy/guide.py says what is translated and why),
then the unit installed from the bundle `device add` wrote, and a button
press on it stored as an incident at the gateway. The broker is started as
Debian's unit starts it: as root, from the unit file plus our drop-in, and
it drops to user mosquitto. Then the password file is made root-only, as
the old code wrote it, and the broker must fail on it."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from central.broker.process import free_port
from tests.agent.support import AgentProcess, wait_for
from tests.deploy.guide import Host, doc_steps
from tests.deploy.test_install import STOCK_CMDLINE, STOCK_CONFIG
from tests.deploy.units import REPO

DEVICE = "fb-kota-0012"


def _operator_files(host: Host, port: int) -> None:
    """site.yaml, central.yaml and secrets/ as an operator prepares them,
    with this root's paths (what docs/gateway.md and docs/fleet.md describe)."""
    r = host.root
    (host.cwd / "secrets").mkdir()
    (host.cwd / "site.yaml").write_text(yaml.safe_dump({
        "site": {"name": "Kota Madiun", "case_prefix": "MDN"},
        "broker": {"host": "127.0.0.1", "port": port, "username": "gateway",
                   "password_file": f"{r}/run/credentials/siaga-gateway.service/broker-password"},
        "gateway": {"database_url": f"sqlite:///{r}/var/lib/siaga-gateway/gateway.db",
                    "http": {"host": "127.0.0.1", "port": 0}},
        "opds": [{"id": "damkar", "name": "Dinas Pemadam Kebakaran"}],
        "routing": {"rules": [{"categories": ["fire"], "opds": ["damkar"]}]},
    }))
    (host.cwd / "central.yaml").write_text(yaml.safe_dump({
        "site_dir": f"{r}/etc/mosquitto/siaga",
        "bundle_dir": f"{r}/var/lib/siaga/bundles",
        "gateway_db_url": f"sqlite:///{r}/var/lib/siaga-gateway/gateway.db",
        "broker": {"host": "127.0.0.1", "port": port, "username": "admin",
                   "password_file": f"{r}/etc/siaga/admin.pw"},
        "unit_broker": {"host": "127.0.0.1", "port": port, "tls": False},
        "mosquitto": {"port": port, "bind": "127.0.0.1", "persistence_dir": f"{r}/var/lib/mosquitto",
                      "pid_file": f"{r}/run/mosquitto/mosquitto.pid"},
        "reload": {"pid_file": f"{r}/run/mosquitto/mosquitto.pid"},
    }))


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def _incidents(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT device_id, category FROM incidents").fetchall()


@pytest.mark.skipif(os.geteuid() != 0, reason="the broker drops to its user only when started as root")
def test_install_guide_gateway_host_to_a_stored_incident(broker_dir, tmp_path, monkeypatch):
    root = broker_dir / "gateway-root"  # the broker's user must be able to enter it
    root.mkdir()
    host = Host(root=root, cwd=tmp_path)
    port = free_port()
    _operator_files(host, port)
    agent = None
    try:
        for line in doc_steps("gateway host"):
            r = host.run(line)
            if "./deploy/install.sh" in line:
                assert r is not None and "SKIPPED" in r.stdout and "mosquitto" in r.stdout
                host.apt_mosquitto()  # the package install the script printed as skipped
            if line.endswith("gen-config"):
                assert "cannot read" not in r.stderr, r.stderr
            if "systemctl restart" in line:
                wait_for(lambda: _listening(port), timeout=20, what="broker listening")
                host.wait_log("siaga-gateway", "siap / ready")
        assert any(line.startswith("sudo -u siaga-gateway") for line in host.ran)
        # `device add` reloaded the running broker through the pid file it wrote as mosquitto
        assert "Reloading config" in host.log("mosquitto")
        passwd = root / "etc/mosquitto/siaga/passwd"
        st = passwd.stat()
        import pwd

        mq = pwd.getpwnam("mosquitto")
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, mq.pw_gid, 0o640)
        conf = (root / "etc/mosquitto/siaga/mosquitto.conf").read_text()
        assert "user mosquitto" in conf.splitlines()
        status = Path(f"/proc/{host.procs['mosquitto'].pid}/status").read_text()
        assert f"Uid:\t{mq.pw_uid}" in status  # started as root, it dropped to mosquitto
        assert "connected to broker as gateway-" in host.log("siaga-gateway")

        # section 1 on the Pi: the bundle `device add` wrote, installed by the script
        bundle = root / "var/lib/siaga/bundles" / DEVICE
        pi = tmp_path / "pi"
        (pi / "boot/firmware").mkdir(parents=True)
        (pi / "boot/firmware/config.txt").write_text(STOCK_CONFIG)
        (pi / "boot/firmware/cmdline.txt").write_text(STOCK_CMDLINE)
        unit_line = next(ln for ln in doc_steps("unit") if "install.sh" in ln)
        unit_line = unit_line.replace("./siaga112/deploy/install.sh", "./deploy/install.sh").replace(
            f"~/{DEVICE}", str(bundle))
        Host(root=pi, cwd=REPO).run(unit_line)
        # run the agent as siaga-unit.service does: its credential, its config,
        # plus what a test needs (mock pins, its own state file, the press socket)
        creds = tmp_path / "unit-creds"
        creds.mkdir()
        (creds / "broker-password").write_text((pi / "etc/siaga/broker.password").read_text())
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        cfg = yaml.safe_load((pi / "etc/siaga/unit.yaml").read_text())
        cfg.update(storage={"path": str(tmp_path / "unit.db")}, sim_control=str(tmp_path / "ctl.sock"),
                   reboot_command=["true"], clock_synced=False)
        (tmp_path / "unit.yaml").write_text(yaml.safe_dump(cfg))
        agent = AgentProcess(tmp_path / "unit.yaml", tmp_path / "ctl.sock", tmp_path / "agent.log").start()
        wait_for(lambda: agent.state()["connected"], timeout=30, what="unit connected with its bundle")
        assert agent.press("fire")[0] == "recorded"
        db = root / "var/lib/siaga-gateway/gateway.db"
        wait_for(lambda: (DEVICE, "fire") in _incidents(db), timeout=30, what="incident at the gateway")
        wait_for(lambda: agent.state()["outbox_depth"] == 0, timeout=30, what="unit got the ack")
        agent.terminate()
        agent = None

        # root-only 0600, as the password file used to be written: the broker,
        # having dropped to mosquitto, cannot open it and refuses to run
        os.chown(passwd, 0, 0)
        passwd.chmod(0o600)
        host.stop("mosquitto")
        host.restart("mosquitto")
        proc = host.procs["mosquitto"]
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.returncode not in (None, 0), host.log("mosquitto")[-2000:]
        assert "unable to open pwfile" in host.log("mosquitto").lower(), host.log("mosquitto")[-2000:]
    finally:
        if agent is not None:
            agent.terminate()
        host.stop_all()

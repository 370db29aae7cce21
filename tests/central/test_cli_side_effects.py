"""A failed or read-only `siaga admin` command leaves no database file behind,
and a first install's `broker user` works before any broker runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from central.settings import DEFAULT_PATH


def _siaga(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SIAGA_CENTRAL_CONFIG"}
    return subprocess.run([sys.executable, "-m", "siaga", "admin", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def test_no_config_is_an_error_naming_the_paths_tried(tmp_path):
    assert not DEFAULT_PATH.exists()  # this machine is not an installed admin host
    r = _siaga(tmp_path, "devices")
    assert r.returncode != 0
    assert str(DEFAULT_PATH) in r.stderr and "SIAGA_CENTRAL_CONFIG" in r.stderr, r.stderr
    assert "point at one: siaga admin --config /path/to/central.yaml" in r.stderr, r.stderr
    assert _files(tmp_path) == []  # no ./central.db


def test_unmigrated_gateway_db_is_not_created(tmp_path):
    conf = tmp_path / "central.yaml"
    conf.write_text(yaml.safe_dump({"gateway_db_url": f"sqlite:///{tmp_path / 'gateway.db'}"}))
    for args in (["devices"], ["device", "add", "box-1", "--profile", "field"],
                 ["broker", "user", "admin", "--no-reload"]):
        r = _siaga(tmp_path, "-c", "central.yaml", *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "siaga gateway migrate" in r.stderr and "gateway.db" in r.stderr, r.stderr
        assert _files(tmp_path) == ["central.yaml"], args  # neither gateway.db nor central.db


def test_no_gateway_db_url_is_an_error_and_creates_nothing(tmp_path):
    conf = tmp_path / "central.yaml"
    conf.write_text("site_dir: site\n")
    for args in (["devices"], ["faults"], ["commands"], ["config", "show", "box-1"],
                 ["device", "show", "box-1"]):
        r = _siaga(tmp_path, "-c", str(conf), *args)
        assert r.returncode == 2 and "gateway_db_url" in r.stderr, (args, r.stderr)
    assert _files(tmp_path) == ["central.yaml"]


def test_old_central_db_setting_says_where_the_state_went(tmp_path):
    conf = tmp_path / "central.yaml"
    conf.write_text("db_path: central.db\nsite_dir: site\n")
    r = _siaga(tmp_path, "-c", str(conf), "devices")
    assert r.returncode == 2
    assert "db_path" in r.stderr and "gateway_db_url" in r.stderr and "Upgrading" in r.stderr, r.stderr
    assert _files(tmp_path) == ["central.yaml"]


def test_broker_user_no_reload_and_no_broker_running(tmp_path):
    from gateway.store.db import Database

    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    gdb = Database(url)
    gdb.migrate()  # `siaga gateway migrate`: the first install step on the gateway host
    gdb.dispose()
    (tmp_path / "central.yaml").write_text(yaml.safe_dump(
        {"site_dir": "site", "reload": {"pid_file": "run/mosquitto.pid"}, "gateway_db_url": url}))
    r = _siaga(tmp_path, "-c", "central.yaml", "broker", "user", "gateway", "--no-reload",
               "--password-file", "gw.pw")
    assert r.returncode == 0, r.stderr
    assert "tidak dimuat ulang / files written, not reloaded" in r.stdout
    # without --no-reload and no broker yet (the first install step): said, exit 0
    r = _siaga(tmp_path, "-c", "central.yaml", "broker", "user", "admin", "--password-file", "admin.pw")
    assert r.returncode == 0, r.stderr
    assert "broker tidak berjalan" in r.stdout and "no broker running, reload skipped" in r.stdout
    assert f"no pid file {tmp_path / 'run' / 'mosquitto.pid'}" in r.stdout
    users = sorted(ln.split(":")[0] for ln in (tmp_path / "site" / "passwd").read_text().split())
    assert users == ["admin", "gateway"]

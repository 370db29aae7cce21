"""`siaga admin` end to end as a subprocess, against the site's real broker."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass

from tests.central.conftest import start_ingest, wait_for
from tests.central.test_real_agent import admin, central_yaml
from tests.central.unit_double import UnitDouble

COMMANDS = [
    ("device", "add"), ("device", "disable"), ("device", "enable"), ("device", "revoke"),
    ("device", "rotate"), ("device", "show"), ("device", "group"), ("devices",), ("faults",),
    ("config", "set"), ("config", "show"), ("cmd",), ("commands",), ("broker", "gen-config"),
    ("broker", "user"), ("broker", "reload"), ("watch",), ("import-central-db",),
    ("release", "keygen"), ("release", "delegate"), ("release", "build"), ("release", "sign"),
    ("release", "serve"), ("rollout", "start"), ("rollout", "show"), ("rollout", "abort"),
]


def test_every_command_has_bilingual_help():
    from typer.testing import CliRunner

    from siaga.cli import mount

    app = mount()

    runner = CliRunner()
    for cmd in COMMANDS:
        r = runner.invoke(app, ["admin", *cmd, "--help"])
        assert r.exit_code == 0, (cmd, r.output)
        assert " / " in r.output, cmd  # "Bahasa Indonesia / English"


@dataclass
class _Run:
    returncode: int
    stdout: str
    stderr: str


def admin_inproc(conf, *args: str) -> _Run:
    """The same `siaga admin` app in-process (the subprocess path is covered by
    test_real_agent and the watch test; this keeps the suite fast)."""
    from typer.testing import CliRunner

    from siaga.cli import mount

    app = mount()

    r = CliRunner().invoke(app, ["admin", "--config", str(conf), *args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return _Run(r.exit_code, r.stdout, r.stderr)


def test_device_lifecycle_config_and_queue(site, fleet, tmp_path):
    conf = central_yaml(site, tmp_path)
    admin = admin_inproc
    r = admin(conf, "device", "add", "box-1", "--profile", "field", "--group", "north", "--area", "Taman")
    assert r.returncode == 0, r.stderr
    r = admin(conf, "device", "add", "box-2", "--profile", "panel", "--group", "north")
    assert r.returncode == 0, r.stderr
    r = admin(conf, "device", "add", "box-1", "--profile", "field")
    assert r.returncode == 2 and "already exists" in r.stderr
    r = admin(conf, "device", "add", "box-3", "--profile", "tower")
    assert r.returncode == 2 and "bad profile" in r.stderr

    pw1 = (site.settings.bundle_dir / "box-1" / "broker.password").read_text().strip()
    unit = UnitDouble(site.broker, "box-1", pw1).start()

    # group change: one new version per member, published retained
    r = admin(conf, "config", "set", "--group", "north", "volume=55", "heartbeat=30")
    assert r.returncode == 0, r.stderr
    assert re.search(r"box-1: versi / version 1", r.stdout) and "box-2: versi / version 1" in r.stdout
    assert wait_for(lambda: unit.applied.version == 1)
    r = admin(conf, "config", "set", "box-1", "volume=500")
    assert r.returncode == 2 and "volume" in r.stderr
    r = admin(conf, "config", "set", "box-1", "colour=red")
    assert r.returncode == 2 and "unknown key" in r.stderr
    assert wait_for(lambda: fleet.config.drift("box-1").state == "in_sync")
    r = admin(conf, "config", "show", "box-1")
    assert "drift: in_sync" in r.stdout and "volume" in r.stdout

    r = admin(conf, "devices", "--json")
    rows = {d["id"]: d for d in json.loads(r.stdout)}
    assert rows["box-1"]["online"] and not rows["box-2"]["online"]
    assert rows["box-2"]["config"] == "pending"  # published, never reported
    r = admin(conf, "devices")
    assert re.search(r"^box-1\s+field\s+daring/online", r.stdout, re.M), r.stdout

    # queue for the offline panel; it runs when the panel comes online
    r = admin(conf, "cmd", "box-2", "ping", "--queue", "--expires", "10m")
    assert r.returncode == 0 and "queued" in r.stdout
    cid = r.stdout.split(":")[1].split()[0]
    assert fleet.commands.get(cid).state == "queued"
    pw2 = (site.settings.bundle_dir / "box-2" / "broker.password").read_text().strip()
    unit2 = UnitDouble(site.broker, "box-2", pw2).start()
    assert wait_for(lambda: fleet.commands.get(cid).state == "succeeded")
    assert unit2.ran == [cid]
    r = admin(conf, "cmd", "box-2", "ping", "--queue", "--expires", "soon")
    assert r.returncode == 2 and "bad duration" in r.stderr

    r = admin(conf, "device", "disable", "box-1")
    assert r.returncode == 0 and "SIGHUP" in r.stdout
    assert wait_for(lambda: not unit.connected.is_set())
    r = admin(conf, "devices")
    assert re.search(r"^box-1\s+field\s+nonaktif/disabled", r.stdout, re.M), r.stdout
    r = admin(conf, "device", "revoke", "box-1")
    assert r.returncode == 0
    r = admin(conf, "device", "enable", "box-1")
    assert r.returncode == 2 and "revoked" in r.stderr
    r = admin(conf, "device", "show", "box-1")  # admin actions are in the device's history
    assert re.search(r"revoked by cli:\S+.*disabled by cli:\S+.*provisioned by cli:\S+: field", r.stdout), \
        r.stdout
    r = admin(conf, "device", "show", "box-9")
    assert r.returncode == 2 and "unknown device" in r.stderr
    r = admin(conf, "faults", "--all")
    assert r.returncode == 0
    unit2.stop()


def test_watch_process_turns_presence_into_episodes(site, tmp_path):
    """`siaga admin watch` (a site whose gateway does not host the fleet) over
    the gateway's database: the ingest stores presence, the watch makes the
    episode."""
    import signal
    import subprocess

    from tests.central.test_real_agent import SIAGA

    conf = central_yaml(site, tmp_path)
    assert admin_inproc(conf, "device", "add", "box-5", "--profile", "field").returncode == 0
    r = admin_inproc(conf, "device", "group", "box-5", "south", "east")
    assert r.returncode == 0 and "east, south" in r.stdout
    ingest = start_ingest(site)
    watch = subprocess.Popen([SIAGA, "admin", "--config", str(conf), "watch"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(watch.stdout.readline, "")),  # type: ignore[union-attr]
                     daemon=True).start()
    try:
        # the watch must be running before the unit's short life (on a loaded machine
        # its start-up took longer than the unit's whole online -> crash -> offline)
        assert wait_for(lambda: any("fleet watch running" in x for x in lines) or watch.poll() is not None,
                        timeout=60)
        assert watch.poll() is None, watch.stderr.read()  # type: ignore[union-attr]
        pw = (site.settings.bundle_dir / "box-5" / "broker.password").read_text().strip()
        unit = UnitDouble(site.broker, "box-5", pw).start()

        def online() -> bool:  # the unit's devices row
            return bool((site.central.health.presence("box-5") or {}).get("online"))

        assert wait_for(online, timeout=30)
        assert json.loads(admin_inproc(conf, "devices", "--json").stdout)[0]["online"] is True
        unit.crash()
        assert wait_for(lambda: not online(), timeout=30)
        assert json.loads(admin(conf, "devices", "--json").stdout)[0]["online"] is False
        assert wait_for(lambda: re.search(r"box-5\s+offline", admin_inproc(conf, "faults").stdout))
    finally:
        ingest.stop()
        watch.send_signal(signal.SIGTERM)
        _out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0, err
    assert any("fleet watch running" in x for x in lines)

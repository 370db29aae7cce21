"""Staged rollout from central: waves, per-unit state, the abort threshold.

Ten light simulated units speak the update contract (an ``update`` command
answered on the MQTT 5 response topic, then ``Telemetry.update`` reports and
the running ``firmware``) against the real fleet service, a real broker with
per-unit credentials, and the API. The real agent's side of the same
contract is covered in ``tests/updates``.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient as HttpClient

from gateway.fleet.api import make_router
from protocol.fleet import Command
from tests.central.conftest import provision, wait_for
from tests.central.test_cli import admin_inproc
from tests.central.test_real_agent import central_yaml
from tests.central.unit_double import UnitDouble

URL = "https://gw.example/updates"


class UpdatingUnit(UnitDouble):
    """A unit double that runs an ``update``: accepted, downloading,
    installed, then confirmed (firmware changes) or rolled back (it does not)."""

    def __init__(self, *a, fate: str = "confirmed", **kw) -> None:
        super().__init__(*a, **kw)
        self.fate = fate
        self.firmware = "1.0.0"
        self.telemetry["firmware"] = self.firmware
        self.updates: list[str] = []

    def _command(self, client, msg) -> None:
        from protocol.codec import decode
        cmd = decode(Command, msg.payload)
        if cmd.name != "update":
            return super()._command(client, msg)
        self.updates.append(cmd.args["version"])
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from protocol.codec import encode
        from protocol.fleet import CommandResult, CommandStatus
        res = CommandResult(device=self.device, seq=self._next_seq(), command_id=cmd.id,
                            status=CommandStatus.OK, result={"accepted": cmd.args["version"]})
        out = Properties(PacketTypes.PUBLISH)
        out.CorrelationData = msg.properties.CorrelationData
        client.publish(msg.properties.ResponseTopic, encode(res), qos=1, properties=out)
        threading.Thread(target=self._progress, args=(cmd.args["version"],), daemon=True).start()

    def _progress(self, version: str) -> None:
        for st in ("downloading", "installed"):
            self.telemetry["update"] = {"version": version, "state": st}
            time.sleep(0.3)
        if self.fate == "confirmed":
            self.telemetry["firmware"] = version
            self.telemetry["update"] = {"version": version, "state": "confirmed"}
        else:
            self.telemetry["update"] = {"version": version, "state": self.fate,
                                        "error": "uji mandiri gagal / self-test failed: self_test:x"}


@pytest.fixture
def api(site, fleet):
    central = site.central
    app = FastAPI()
    app.include_router(make_router(central.fleet, service=fleet))
    with HttpClient(app) as client:
        yield client


def test_rollout_stops_after_first_wave_over_threshold_then_a_good_one_completes(site, fleet, api, tmp_path):
    devices = [f"box-{i:02d}" for i in range(10)]
    pws = {d: provision(site, d, groups=["taman"]) for d in devices}
    r = api.post("/api/fleet/rollouts", json={"version": "2.0.0", "url": URL, "group": "taman",
                                              "waves": [30, 100], "abort_pct": 20,
                                              "wave_timeout_s": 60}).json()
    first = sorted(u["device"] for u in r["units"] if u["wave"] == 0)
    assert len(first) == 3 and len(r["units"]) == 10
    fates = {d: "confirmed" for d in devices} | {first[0]: "rolled_back", first[1]: "failed"}
    units = {d: UpdatingUnit(site.broker, d, pws[d], fate=fates[d], heartbeat_s=0.2).start() for d in devices}
    try:
        done = wait_for(lambda: (x := api.get(f"/api/fleet/rollouts/{r['id']}").json())["state"] != "running"
                        and x, 30)
        assert done["state"] == "aborted"
        assert "2/3" in done["reason"]
        by = {u["device"]: u for u in done["units"]}
        assert by[first[0]]["state"] == "rolled_back" and "self-test failed" in by[first[0]]["error"]
        assert by[first[1]]["state"] == "failed"
        assert by[first[2]]["state"] == "confirmed"
        later = [d for d in devices if d not in first]
        assert all(by[d]["state"] == "pending" for d in later)
        time.sleep(0.5)  # a few more fleet ticks: nothing is offered to wave 2
        assert all(units[d].updates == [] for d in later)
        # the fleet table (GET /api/devices)
        rows = {x["id"]: x for x in site.central.fleet.device_rows()}
        assert rows[first[2]]["firmware"] == "2.0.0"
        assert rows[first[0]]["firmware"] == "1.0.0" and rows[first[0]]["update"]["state"] == "rolled_back"

        conf = central_yaml(site, tmp_path)
        shown = admin_inproc(conf, "rollout", "show", r["id"])
        assert shown.returncode == 0 and "aborted" in shown.stdout and "rolled_back" in shown.stdout
        listed = admin_inproc(conf, "devices")
        assert re.search(rf"{first[2]}\s.*2\.0\.0", listed.stdout), listed.stdout

        # a fixed release goes to everyone, wave after wave (started from the CLI this time)
        for u in units.values():
            u.fate = "confirmed"
        started = admin_inproc(conf, "rollout", "start", "2.0.1", "--url", URL, "--group", "taman",
                               "--waves", "30,100", "--abort-pct", "20")
        assert started.returncode == 0, started.stderr
        rid = started.stdout.split()[1].rstrip(":")
        done = wait_for(lambda: (x := api.get(f"/api/fleet/rollouts/{rid}").json())["state"] != "running"
                        and x, 30)
        assert done["state"] == "done", done
        assert done["counts"]["confirmed"] == 10
        assert all(u.updates[-1] == "2.0.1" for u in units.values())
    finally:
        for u in units.values():
            u.stop()


def test_rollout_refusals(site, api):
    provision(site, "box-a", groups=["north"])
    bad = [({"version": "2.0.0", "url": URL, "group": "nobody"}, "no units"),
           ({"version": "2.0.0", "url": URL, "waves": [50, 40]}, "waves must rise")]
    for body, why in bad:
        res = api.post("/api/fleet/rollouts", json=body)
        assert res.status_code == 422 and why in res.text, res.text
    assert api.post("/api/fleet/rollouts", json={"version": "x.y", "url": URL}).status_code == 422
    ok = api.post("/api/fleet/rollouts", json={"version": "2.0.0", "url": URL})
    assert ok.status_code == 202
    again = api.post("/api/fleet/rollouts", json={"version": "2.0.1", "url": URL})
    assert again.status_code == 422 and "already running" in again.text
    aborted = api.post(f"/api/fleet/rollouts/{ok.json()['id']}/abort").json()
    assert aborted["state"] == "aborted"
    assert api.get("/api/fleet/rollouts/nope").status_code == 404

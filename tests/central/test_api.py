"""The fleet router on a bare FastAPI app (in-process ASGI via Starlette's TestClient)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient as HttpClient

from gateway.fleet.api import make_router
from gateway.fleet.commands import CmdState
from tests.central.conftest import provision, wait_for
from tests.central.unit_double import UnitDouble


@pytest.fixture
def api(site, fleet):
    central = site.central
    app = FastAPI()
    app.include_router(make_router(central.fleet, service=fleet))
    with HttpClient(app) as client:
        yield client


def test_devices_faults_config_and_commands(site, fleet, api):
    pw = provision(site, "box-1", groups=["north"])
    unit = UnitDouble(site.broker, "box-1", pw, heartbeat_s=0.05,
                      telemetry={"faults": ["door_tamper"], "signal_dbm": -80}).start()
    assert wait_for(lambda: fleet.health.open_faults("box-1"))

    # the fleet table (GET /api/devices in the gateway) is built from the same rows
    rows = site.central.fleet.device_rows()
    assert [r["id"] for r in rows] == ["box-1"]
    assert rows[0]["online"] is True and rows[0]["faults"] == ["door_tamper"]
    assert rows[0]["groups"] == ["north"] and rows[0]["signal_dbm"] == -80
    assert api.get("/api/devices/nope-1/faults").status_code == 404
    faults = api.get("/api/devices/box-1/faults").json()
    assert [f["fault"] for f in faults] == ["door_tamper"]
    assert [f["fault"] for f in api.get("/api/fleet/faults").json()] == ["door_tamper"]

    r = api.put("/api/devices/box-1/config", json={"settings": {"volume": 30}})
    assert r.status_code == 202 and r.json()["version"] == 1
    assert wait_for(lambda: api.get("/api/devices/box-1/config").json()["drift"]["state"] == "in_sync")
    view = api.get("/api/devices/box-1/config").json()
    assert {"key": "volume", "desired": 30, "reported": 30, "same": True} in view["diff"]
    assert api.get("/api/fleet/drift").json() == []
    bad = api.put("/api/devices/box-1/config", json={"settings": {"volume": 300}})
    assert bad.status_code == 422 and "volume" in bad.json()["detail"]
    assert api.put("/api/devices/box-1/config", json={"settings": {}, "x": 1}).status_code == 422
    assert api.get("/api/fleet/groups").json() == {"north": ["box-1"]}
    r = api.put("/api/fleet/groups/north/config", json={"settings": {"log_level": "DEBUG"}})
    assert r.status_code == 202 and r.json() == [{"device": "box-1", "version": 2}]
    assert api.put("/api/fleet/groups/nobody/config", json={"settings": {"volume": 1}}).status_code == 404
    assert api.put("/api/fleet/groups/north/config", json={"settings": {"volume": -1}}).status_code == 422
    assert wait_for(lambda: unit.applied.version == 2)

    r = api.post("/api/devices/box-1/commands", json={"name": "ping", "timeout_s": 10})
    assert r.status_code == 202
    cid = r.json()["id"]
    assert wait_for(lambda: api.get(f"/api/fleet/commands/{cid}").json()["state"] == CmdState.SUCCEEDED)
    assert api.get("/api/fleet/commands", params={"device": "box-1"}).json()[0]["id"] == cid
    assert api.get("/api/devices/box-1/commands").json()[0]["state"] == "succeeded"
    assert api.post("/api/devices/box-1/commands", json={"name": "Bad Name"}).status_code == 422
    assert api.get("/api/fleet/commands/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
    assert api.get("/api/fleet/stats").json()["counters"]["applied_telemetry"] > 0
    assert [e["kind"] for e in api.get("/api/devices/box-1/events").json()] == ["provisioned"]
    assert api.get("/api/devices/nope-1/events").status_code == 404
    unit.stop()

"""The gateway hosting the fleet side (`gateway.fleet_config`): central's
health watch runs in the gateway process, `/api/fleet` is served behind the
gateway's own login, and both share the gateway's device table."""

from __future__ import annotations

import httpx
import yaml

from protocol.codec import encode
from protocol.fleet import Profile, Status
from protocol.reports import Location
from protocol.topics import device_topic
from tests.gateway.support import api_client, make_user, site_config, wait_for
from tests.support.mqtt import TestClient


def test_fleet_api_in_gateway(tmp_path, broker, start_gateway):
    central_yaml = tmp_path / "central.yaml"
    central_yaml.write_text(yaml.safe_dump({
        "db_path": str(tmp_path / "central.db"), "site_dir": str(tmp_path / "site"),
        "bundle_dir": str(tmp_path / "bundles"),
        "gateway_db_url": f"sqlite:///{tmp_path / 'gateway.db'}",
        "broker": {"host": broker.host, "port": broker.port},
        "health": {"heartbeat_default_s": 5},
    }))
    cfg = site_config(tmp_path, broker)
    cfg.gateway.fleet_config = central_yaml
    gw = start_gateway(cfg)
    gw.fleet.central.prov.add_device("box-9", profile=Profile.FIELD,
                                     location=Location(label="Taman Sari"), reload=False)
    # provisioning wrote the SD-card bundle
    assert (tmp_path / "bundles" / "box-9" / "unit.yaml").exists()

    admin = api_client(gw.url, make_user(gw.db, "adm", "admin"))
    opd = api_client(gw.url, make_user(gw.db, "dam", "opd", opd="damkar"))
    assert httpx.get(f"{gw.url}/api/fleet/devices").status_code == 401
    assert opd.get("/api/fleet/devices").status_code == 403

    unit = TestClient(broker, "box-9").start()
    unit.publish(device_topic("box-9", "status"),
                 encode(Status(device="box-9", state="online", profile="field")), retain=True)

    def row():
        rows = admin.get("/api/fleet/devices").json()
        return next((r for r in rows if r["id"] == "box-9"), None)

    assert wait_for(lambda: (r := row()) and r["online"])
    # the gateway's own device list is the same registry
    assert [d["id"] for d in admin.get("/api/devices").json()] == ["box-9"]

    # the unit's will fires: offline, and one fault episode opens
    unit.publish(device_topic("box-9", "status"),
                 encode(Status(device="box-9", state="offline", reason="will")), retain=True)
    assert wait_for(lambda: (r := row()) and not r["online"] and "offline" in r["faults"])
    faults = admin.get("/api/fleet/devices/box-9/faults").json()
    assert [f["fault"] for f in faults] == ["offline"]
    unit.stop()

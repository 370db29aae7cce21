"""The gateway hosting the fleet side (`gateway.fleet_config`): central's
health watch runs in the gateway process, `/api/fleet` is served behind the
gateway's own login, and both share the gateway's device table."""

from __future__ import annotations

import httpx

from protocol.fleet import Profile
from protocol.reports import Location
from tests.gateway.support import (
    api_client,
    central_yaml,
    fleet_watch_sees,
    make_user,
    provisioner,
    site_config,
)


def test_fleet_api_in_gateway(tmp_path, broker, start_gateway):
    central = central_yaml(tmp_path, broker)
    cfg = site_config(tmp_path, broker)
    cfg.gateway.fleet_config = central
    gw = start_gateway(cfg)
    provisioner(gw).add_device("box-9", profile=Profile.FIELD,
                                     location=Location(label="Taman Sari"), reload=False)
    # provisioning wrote the SD-card bundle
    assert (tmp_path / "bundles" / "box-9" / "unit.yaml").exists()

    admin = api_client(gw.url, make_user(gw.db, "adm", "admin"))
    opd = api_client(gw.url, make_user(gw.db, "dam", "opd", opd="damkar"))
    assert httpx.get(f"{gw.url}/api/fleet/devices").status_code == 401
    assert opd.get("/api/fleet/devices").status_code == 403

    def same_registry() -> None:  # the gateway's own device list is the same registry
        assert [d["id"] for d in admin.get("/api/devices").json()] == ["box-9"]

    # online, then the unit's will fires: offline, and one fault episode opens
    fleet_watch_sees(broker, admin, "box-9", between=same_registry)
    faults = admin.get("/api/fleet/devices/box-9/faults").json()
    assert [f["fault"] for f in faults] == ["offline"]

"""The gateway hosting the fleet wing (`gateway.fleet_config`): the health
watch runs in the gateway process, one `/api/devices` carries registry,
presence and fleet state behind the gateway's own login."""

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
    operator = api_client(gw.url, make_user(gw.db, "op", "operator"))
    supervisor = api_client(gw.url, make_user(gw.db, "sup", "supervisor"))
    assert httpx.get(f"{gw.url}/api/devices").status_code == 401
    assert opd.get("/api/devices").status_code == 403
    assert httpx.get(f"{gw.url}/api/fleet/devices").status_code == 404  # one device list, not two
    assert operator.get("/api/devices/box-9/faults").status_code == 403  # the fleet wing: admins
    assert supervisor.get("/api/devices/box-9/faults").status_code == 200  # supervisors read
    ping = {"name": "ping"}
    assert supervisor.post("/api/devices/box-9/commands", json=ping).status_code == 403  # admins act
    assert admin.post("/api/devices/box-9/commands", json=ping).json()["state"] == "queued"

    def same_registry() -> None:  # one list: registry row, presence and fleet state
        [row] = operator.get("/api/devices").json()
        assert row["id"] == "box-9" and row["label"] == "Taman Sari" and row["online"] is True
        assert row["revoked"] is False and row["faults"] == [] and row["config"] == "none"

    # online, then the unit's will fires: offline, and one fault episode opens
    fleet_watch_sees(broker, admin, "box-9", between=same_registry)
    faults = admin.get("/api/devices/box-9/faults").json()
    assert [f["fault"] for f in faults] == ["offline"]


def test_check_config_reads_the_fleets_central_yaml(tmp_path, broker):
    """`siaga gateway check-config` checks the `central.yaml` that `gateway.fleet_config`
    names the way the gateway will read it: file:line: key: message."""
    from typer.testing import CliRunner

    from gateway.cli import app
    from tests.gateway.support import site_yaml

    central = central_yaml(tmp_path, broker)
    site = tmp_path / "site.yaml"
    site.write_text(site_yaml(tmp_path, broker).replace(
        "  role_check_s: 0.2\n", f"  role_check_s: 0.2\n  fleet_config: {central}\n"))
    runner = CliRunner()
    ok = runner.invoke(app, ["check-config", str(site)])
    assert ok.exit_code == 0, ok.output
    central.write_text(central.read_text() + "helth: {tick_s: 1}\n")  # a typo
    bad = runner.invoke(app, ["check-config", str(site)])
    assert bad.exit_code == 1
    lines = central.read_text().splitlines()
    assert f"{central}:{len(lines)}: helth: " in bad.output, bad.output

"""The fleet page in a real browser against a real gateway hosting the fleet
side: each unit's software version and update state, and the newest rollout
with each unit's state in it."""

from __future__ import annotations

import yaml

from gateway.runtime import Gateway
from protocol.codec import encode
from protocol.fleet import Profile, Status, Telemetry, UpdateReport, UpdateState
from protocol.topics import device_topic
from tests.gateway.support import make_user, provisioner, site_config, wait_for
from tests.support.mqtt import TestClient
from tests.web.test_pages import login


def fleet_gateway(tmp_path, broker) -> Gateway:
    """A started gateway hosting the fleet side (central's watch and API)."""
    central_yaml = tmp_path / "central.yaml"
    central_yaml.write_text(yaml.safe_dump({
        "site_dir": str(tmp_path / "site"),
        "bundle_dir": str(tmp_path / "bundles"),
        "gateway_db_url": f"sqlite:///{tmp_path / 'gateway.db'}",
        "broker": {"host": broker.host, "port": broker.port},
        "health": {"heartbeat_default_s": 30},
    }))
    cfg = site_config(tmp_path, broker)
    cfg.gateway.fleet_config = central_yaml
    return Gateway(cfg).start()


def test_fleet_page_shows_versions_and_the_rollout(tmp_path, broker, browser):
    gw = fleet_gateway(tmp_path, broker)
    unit = None
    try:
        for d in ("box-1", "box-2"):
            provisioner(gw).add_device(d, profile=Profile.FIELD, groups=["taman"], reload=False)
        make_user(gw.db, "adm", "admin")
        unit = TestClient(broker, "box-1").start()
        unit.publish(device_topic("box-1", "status"),
                     encode(Status(device="box-1", state="online", firmware="1.0.0")), retain=True)
        unit.publish(device_topic("box-1", "telemetry"), encode(Telemetry(
            device="box-1", seq=1, firmware="1.0.0",
            update=UpdateReport(version="2.0.0", state=UpdateState.ROLLED_BACK,
                                error="uji mandiri gagal / self-test failed"))))
        r = gw.fleet.fleet.rollouts.create("2.0.0", "https://gw.example/updates", ["box-1", "box-2"],
                                             target="group:taman", waves=[50, 100], abort_pct=20,
                                             wave_timeout_s=3600)
        wait_for(lambda: gw.fleet.fleet.rollouts.get(r["id"])["counts"]["pending"] < 2)

        page = login(browser, gw.url, "adm")
        page.wait_for_function("() => !location.pathname.startsWith('/login')")
        page.goto(f"{gw.url}/fleet")
        row = page.locator("#devices tr[data-id='box-1'] td.firmware")
        row.wait_for()
        page.wait_for_function(
            "() => (document.querySelector(\"#devices tr[data-id='box-1'] td.firmware\") || {})"
            ".textContent?.includes('rolled_back')")
        assert row.text_content() == "1.0.0 (2.0.0: rolled_back – uji mandiri gagal / self-test failed)"
        page.locator("#rollout-card").wait_for(state="visible")
        summary = page.locator("#rollout-summary").text_content()
        assert summary.startswith("2.0.0: running, gelombang / wave 1/2")
        states = {tr.get_attribute("data-id"): tr.locator("td").nth(2).text_content()
                  for tr in page.locator("#rollout tbody tr").all()}
        assert set(states) == {"box-1", "box-2"}
        # wave 1 (one unit) is offered the update; no reply yet, so no report is taken as its answer
        assert sorted(states.values()) == ["offered", "pending"]
    finally:
        if unit is not None:
            unit.stop()
        gw.stop()

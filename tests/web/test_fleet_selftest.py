"""The fleet page shows each unit's last self-test, pass or fail, with the
failed parts in words (issue 17 item 6), in a real browser against a real
gateway hosting the fleet side."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from protocol.codec import encode
from protocol.fleet import Profile, Status, Telemetry
from protocol.selftest import SelfTestSummary, SelfTestTrigger
from protocol.topics import device_topic
from tests.gateway.support import make_user, provisioner
from tests.support.mqtt import TestClient
from tests.web.test_fleet_page import fleet_gateway
from tests.web.test_pages import login

SHOTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_fleet_page_shows_the_last_self_test_of_each_unit(tmp_path, broker, browser):
    gw = fleet_gateway(tmp_path, broker)
    units = []
    try:
        at = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
        results = {
            "box-1": SelfTestSummary(at=at, ok=False, trigger=SelfTestTrigger.DAILY,
                                     failed=["buzzer", "speaker", "button_fire"]),
            "box-2": SelfTestSummary(at=at, ok=True, trigger=SelfTestTrigger.COMMAND),
        }
        for d, summary in results.items():
            provisioner(gw).add_device(d, profile=Profile.FIELD, reload=False)
            unit = TestClient(broker, d).start()
            units.append(unit)
            unit.publish(device_topic(d, "status"), encode(Status(device=d, state="online")), retain=True)
            unit.publish(device_topic(d, "telemetry"), encode(Telemetry(device=d, seq=1, self_test=summary)))
        make_user(gw.db, "adm", "admin")
        page = login(browser, gw.url, "adm")
        page.wait_for_function("() => !location.pathname.startsWith('/login')")
        page.goto(f"{gw.url}/fleet")
        cell = "#devices tr[data-id='{}'] td.selftest"
        has = "([sel, text]) => (document.querySelector(sel) || {}).textContent?.includes(text)"
        page.wait_for_function(has, arg=[cell.format("box-1"), "GAGAL"])
        failed = page.locator(cell.format("box-1")).text_content()
        assert failed.startswith("GAGAL / FAILED: buzzer, pengeras suara / speaker, tombol / button fire (")
        assert "harian / daily" in failed
        assert "fault" in (page.locator(cell.format("box-1")).get_attribute("class") or "")
        page.wait_for_function(has, arg=[cell.format("box-2"), "lulus"])
        assert page.locator(cell.format("box-2")).text_content().startswith("lulus / passed (")
        # central opened the episode from the heartbeat alone (no command was sent)
        assert "self_test_failed" in page.locator("#devices tr[data-id='box-1']").text_content()
        if SHOTS.is_dir():
            page.screenshot(path=str(SHOTS / "h17-fleet-selftest.png"), full_page=True)
    finally:
        for unit in units:
            unit.stop()
        gw.stop()

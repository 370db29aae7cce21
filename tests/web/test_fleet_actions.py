"""Fleet actions on the fleet page, in a real browser: an admin runs a
self-test on a REAL unit agent (``firmware.agent`` on gpiozero's mock pins,
connected to a Mosquitto running the site's generated password file and ACL)
through a gateway hosting the fleet wing, and sees each state of the command
and its result; a configuration change shows as drift until the unit reports
it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.agent.agent import Agent
from firmware.pins import DEFAULT_PINS
from gateway.runtime import Gateway
from protocol.fleet import Profile
from protocol.reports import Location
from tests.agent.support import AgentThread
from tests.central.test_real_agent import agent_config, central_yaml, healthy_box
from tests.gateway.support import make_user, site_config, wait_for
from tests.web.test_pages import login

SHOTS = Path(__file__).resolve().parents[2] / "artifacts"
ORDER = ["antre / queued", "terkirim / sent", "sampai di unit / delivered", "berhasil / succeeded"]

# every state the command's badge shows, in order, as the page redraws it
WATCH_STATES = """() => {
  window.seenStates = [];
  const note = () => {
    const b = document.querySelector("#unit-commands tbody tr[data-name='self_test'] td.state");
    const t = b && b.textContent;
    if (t && window.seenStates[window.seenStates.length - 1] !== t) window.seenStates.push(t);
  };
  new MutationObserver(note).observe(document.querySelector("#unit-commands tbody"),
                                     {childList: true, subtree: true, characterData: true});
}"""


@pytest.mark.parametrize("fleet_db_url", ["sqlite"], indirect=True)  # the engines: tests/central
def test_admin_self_test_and_config_drift_from_the_fleet_page(site, tmp_path, browser, mock_pins, modem_sim):
    SHOTS.mkdir(parents=True, exist_ok=True)
    site.prov.add_device("box-7", profile=Profile.FIELD, location=Location(label="Pasar Besar", area="Taman"))
    cfg = site_config(tmp_path, site.broker, username="gateway", password=site.gateway_password,
                      db_url=site.db_url)
    cfg.gateway.fleet_config = central_yaml(site, tmp_path)
    gw = Gateway(cfg).start()
    unit_cfg = agent_config(site, tmp_path, "box-7", modem_sim.url)
    agent = Agent(unit_cfg)
    mock_pins.pin(DEFAULT_PINS["field"]["mains_ok"]).drive_low()  # mains present, the door left open
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        make_user(gw.db, "adm", "admin")
        page = login(browser, gw.url, "adm")
        page.wait_for_function("() => !location.pathname.startsWith('/login')")
        page.goto(f"{gw.url}/fleet")
        row = page.locator("#devices tr[data-id='box-7']")
        row.locator("text=daring / online").wait_for()
        row.locator("button[data-action=open]").click()
        page.locator("#unit-card").wait_for(state="visible")
        # fault history: the open door is an episode, still open
        door = "#unit-faults tbody tr.{} td[data-fault=door_tamper]"
        page.locator(door.format("open") + " >> text=pintu terbuka / door open").wait_for()

        # self-test: the command's state moves on the page until the unit's result is there
        page.evaluate(WATCH_STATES)
        page.locator("#unit-actions button[data-command=self_test]").click()
        cmd = page.locator("#unit-commands tbody tr[data-name='self_test']")
        cmd.locator("td.state >> text=berhasil / succeeded").wait_for()
        seen = page.evaluate("window.seenStates")
        assert seen[-1] == "berhasil / succeeded" and seen[0] in ORDER, seen
        assert [ORDER.index(s) for s in seen] == sorted(ORDER.index(s) for s in seen), seen  # only forward
        result = cmd.locator("td.result").text_content()
        assert result == "lulus / passed", result  # a healthy box: every check passed
        page.screenshot(path=str(SHOTS / "h12fleet-self-test.png"), full_page=True)

        # a config change made while the unit is away is drift until the unit reports it
        run.stop()  # a clean stop: offline, and no fault episode for it
        row.locator("text=luring / offline").wait_for()
        page.select_option("#config-form select[name=key]", "volume")
        page.fill("#config-form input[name=value]", "35")
        page.click("#config-form button[type=submit]")
        line = page.locator("#unit-config tr[data-key='volume']")
        page.locator("#unit-config tr.differs[data-key='volume']").wait_for()
        assert line.locator("td").nth(1).text_content() == "35" != line.locator("td").nth(2).text_content()
        page.locator("#config-state >> text=menunggu unit / waiting for the unit").wait_for()
        row.locator("td.config >> text=menunggu unit / waiting for the unit").wait_for()
        page.screenshot(path=str(SHOTS / "h12fleet-config-drift.png"), full_page=True)

        agent = Agent(unit_cfg)
        healthy_box(mock_pins)
        run = AgentThread(agent).start()  # back: it takes the retained document, reports
        run.wait_connected()
        page.locator("#config-state >> text=selaras / in sync").wait_for()
        page.locator("#unit-config tr.same[data-key='volume']").wait_for()
        assert line.locator("td").nth(1).text_content() == "35" == line.locator("td").nth(2).text_content()
        row.locator("td.config >> text=selaras / in sync").wait_for()
        assert wait_for(lambda: gw.fleet.fleet.config.drift("box-7").state == "in_sync")
        # the door closed on the way back: its episode is closed, and no "offline" one was opened
        page.locator(door.format("closed")).wait_for()
        assert [f["fault"] for f in gw.fleet.fleet.health.faults("box-7")] == ["door_tamper"]
        page.screenshot(path=str(SHOTS / "h12fleet-config-in-sync.png"), full_page=True)
    finally:
        run.stop()
        gw.stop()

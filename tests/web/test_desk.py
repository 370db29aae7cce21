"""The operator's desk in a real browser: call types in words, a flagged
caller's history while the number is typed, the supervisors' flag list
(lift with a reason, CSV). Screenshots go to ``artifacts/`` at the repo root."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.runtime import Gateway
from protocol.codec import encode
from protocol.reports import CallEnd, CallRecord
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import make_user, register, site_config
from tests.web.test_pages import login

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
NUM = "+6281377778888"


@pytest.fixture
def gateway(tmp_path, broker):
    gw = Gateway(site_config(tmp_path, broker)).start()
    try:
        yield gw
    finally:
        gw.stop()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_flagged_caller_on_the_console_and_lifted_by_a_supervisor(gateway, browser):
    register(gateway.db, "panel-1", profile="panel")
    make_user(gateway.db, "op1", "operator")
    make_user(gateway.db, "sup1", "supervisor")
    calls = [CallRecord(device="panel-1", seq=i, direction="incoming", number=NUM, answer_s=3.0,
                        duration_s=4.0, end_reason=CallEnd.REMOTE_HANGUP, call_type=t, operator="op1")
             for i, t in enumerate(["prank", "ghost", "prank"], start=1)]
    Intake(gateway.db, gateway.cfg, Metrics()).process(
        [Message(device_topic("panel-1", DeviceTopic.CALL), encode(c)) for c in calls])

    page = login(browser, gateway.url, "op1")
    page.wait_for_url("**/console")
    # supervisors only (hidden once the page knows the role)
    page.locator("nav a[href='/flags']").wait_for(state="hidden")
    page.fill("#new-incident [name=caller]", NUM)
    box = page.locator("#caller-history[data-flagged=yes]")
    box.wait_for()
    text = box.inner_text()
    assert "NOMOR DITANDAI" in text and "3 panggilan" in text
    assert "2 iseng" in text and "1 kosong (diam)" in text
    # a typed prank report: stored, shown in words, never routed
    page.select_option("#call-type-select", "prank")
    page.fill("#new-incident [name=description]", "Tertawa lalu ditutup")
    page.click("#new-incident button[type=submit]")
    row = page.locator("#finished tbody tr").filter(has_text="Iseng").first  # never live
    row.wait_for()
    assert row.get_attribute("data-status") == "rejected"
    shot(page, "flagged-caller-console.png")

    sup = login(browser, gateway.url, "sup1")
    sup.wait_for_url("**/dashboard")
    sup.click("nav a[href='/flags']")
    flag_row = sup.locator(f"#flags tr[data-number='{NUM}']")
    flag_row.wait_for()
    assert "pertama" in flag_row.inner_text()
    shot(sup, "flag-list.png")
    sup.once("dialog", lambda d: d.accept("Sudah ditegur, nomor milik sekolah"))
    flag_row.locator("button").click()
    flag_row.wait_for(state="detached")
    csv_text = sup.evaluate("fetch('/api/export/flags.csv').then(r => r.text())")
    assert "Sudah ditegur, nomor milik sekolah" in csv_text


def test_fourth_call_of_a_flagged_prankster_rings_flagged_on_console_and_panel(
        gateway, browser, mock_pins, tmp_path, broker):
    """3 prank calls flag the number; the gateway pushes the list to the
    panel; the 4th call rings with the panel's flag LED lit and the flag on
    the console, and is still answered."""
    from firmware.agent.agent import Agent
    from firmware.agent.config import UnitConfig
    from firmware.pins import DEFAULT_PINS
    from firmware.sim import ModemSimulator
    from tests.agent.support import AgentThread, base_config, wait_for

    pins = DEFAULT_PINS["panel"]
    register(gateway.db, "panel-01", profile="panel")
    make_user(gateway.db, "op1", "operator")
    calls = [CallRecord(device="panel-01", seq=100 + i, direction="incoming", number=NUM, answer_s=2.0,
                        duration_s=3.0, end_reason=CallEnd.REMOTE_HANGUP, call_type="prank")
             for i in range(3)]
    Intake(gateway.db, gateway.cfg, Metrics()).process(
        [Message(device_topic("panel-01", DeviceTopic.CALL), encode(c)) for c in calls])
    gateway.flag_sync.wake.set()
    sim = ModemSimulator(profile="sim800", ring_interval=0.5)
    url = sim.start_tcp()
    agent = Agent(UnitConfig.model_validate(base_config(
        tmp_path, broker, device_id="panel-01", profile="panel", operator="op1",
        modem={"url": url, "watchdog_interval_s": 30})))
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        wait_for(lambda: agent.profile.flags.is_flagged(NUM), what="flag list pushed to the panel")
        page = login(browser, gateway.url, "op1")
        page.wait_for_url("**/console")
        sim.incoming_call(NUM)
        wait_for(lambda: mock_pins.pin(pins["led_flagged"]).state, what="flag LED lit while ringing")
        desk = page.locator(".desk[data-phase=ringing].flagged")
        desk.wait_for()
        page.locator(".desk .history.flagged").wait_for()
        assert "NOMOR DITANDAI" in desk.inner_text() and NUM in desk.inner_text()
        shot(page, "flagged-ring.png")
        mock_pins.pin(pins["button_answer"]).drive_low()
        mock_pins.pin(pins["button_answer"]).drive_high()
        wait_for(lambda: mock_pins.pin(pins["led_active"]).state, what="the flagged call is answered")
        page.locator(".desk[data-phase=active]").wait_for()
        sim.remote_hangup()
        page.locator("#desks-card").wait_for(state="hidden")
    finally:
        run.stop()
        sim.stop()


def test_empty_report_refused_next_to_the_field_and_dispatch_needs_confirmation(gateway, browser):
    make_user(gateway.db, "op1", "operator")
    page = login(browser, gateway.url, "op1")
    page.wait_for_url("**/console")
    page.select_option("#category-select", "fire")
    page.click("#new-incident button[type=submit]")
    err = page.locator("#new-incident .field-error[data-field=area]")
    err.wait_for()
    assert err.inner_text().startswith("Isi lokasi (alamat atau kecamatan) atau nomor penelepon")
    # the list is re-read with the filter (waited for by its request: a paced pushed read may
    # follow it at the next whole second, so the page's data-live mark can move on at once)
    with page.expect_response(lambda r: "/api/incidents?" in r.url and "status=received" in r.url):
        page.select_option("#status-filter", "received")
    page.select_option("#status-filter", "")
    assert err.is_visible()  # stays through refreshes until dismissed
    assert page.locator("#incidents tbody tr").count() == 0
    # over-long text is refused with a message, never cut
    page.fill("#new-incident [name=description]", "x" * 2500)
    page.fill("#new-incident [name=caller]", "+6281234")
    page.click("#new-incident button[type=submit]")
    page.locator("#new-incident .field-error[data-field=description]").wait_for()
    assert page.locator("#new-incident [name=description]").input_value() == "x" * 2500
    shot(page, "triage-errors.png")
    for b in page.locator("#new-incident .field-error button").all():
        b.click()
    assert page.locator("#new-incident .field-error").count() == 0
    page.fill("#new-incident [name=description]", "Asap dari gudang")
    page.fill("#new-incident [name=area]", "Taman")
    page.select_option("#category-select", "fire")  # typed in: not auto-dispatched
    page.click("#new-incident button[type=submit]")
    row = page.locator("#incidents tbody tr").first
    row.wait_for()
    row.locator("button[data-step=triaged]").click()
    page.locator("#incidents tbody tr[data-status=triaged]").wait_for()
    page.once("dialog", lambda d: d.dismiss())
    row.locator("button[data-step=dispatched]").click()
    page.locator("#incidents tbody tr[class*=st-triaged]").wait_for()
    page.once("dialog", lambda d: d.accept())
    row.locator("button[data-step=dispatched]").click()
    page.locator("#incidents tbody tr[class*=st-dispatched]").wait_for()


@pytest.mark.parametrize(("user", "role", "opd", "home", "allowed", "refused"), [
    ("op1", "operator", None, "/console", ["console", "fleet"], ["opd", "flags", "dashboard"]),
    ("sup1", "supervisor", None, "/dashboard", ["console", "dashboard", "opd", "flags"], []),
    ("dam1", "opd", "damkar", "/opd", ["opd"], ["console", "dashboard", "flags", "fleet"]),
    ("walikota", "mayor", None, "/dashboard", ["dashboard"], ["console", "opd", "flags", "fleet"]),
])
def test_each_role_sees_and_opens_only_its_pages(gateway, browser, user, role, opd, home, allowed, refused):
    import httpx

    make_user(gateway.db, user, role, opd=opd)
    page = login(browser, gateway.url, user)
    page.wait_for_url(f"**{home}")
    page.wait_for_function("document.getElementById('who').textContent !== ''")  # nav set by role
    links = page.locator("nav a").all()
    visible = sorted(a.get_attribute("href").strip("/") for a in links if a.is_visible())
    assert set(allowed) <= set(visible) and not set(refused) & set(visible)
    for name in refused:  # the server refuses, not only the menu
        assert page.request.get(f"{gateway.url}/{name}").status == 403, name
    for name in allowed:
        assert page.request.get(f"{gateway.url}/{name}").status == 200, name
    with httpx.Client(base_url=gateway.url) as anon:
        assert anon.get("/console", follow_redirects=False).status_code == 303


def test_opd_portal_buttons_only_for_the_opd_and_supervisor_cannot_resolve(gateway, browser):
    import httpx

    sup = make_user(gateway.db, "sup1", "supervisor")
    make_user(gateway.db, "dam1", "opd", opd="damkar")
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {sup}"}) as api:
        fire = api.post("/api/incidents", json={"category": "fire", "caller": "+62811"}).json()
        for to in ("triaged", "dispatched"):
            assert api.post(f"/api/incidents/{fire['id']}/transitions", json={"to": to}).status_code == 200
        r = api.post(f"/api/incidents/{fire['id']}/transitions", json={"to": "acknowledged", "opd": "damkar"})
        assert r.status_code == 403 and "Supervisor" in r.json()["detail"]
    page = login(browser, gateway.url, "sup1")
    page.wait_for_url("**/dashboard")
    page.goto(f"{gateway.url}/opd")
    page.locator(f"#opd-cases [data-id='{fire['id']}']").wait_for()
    assert page.locator("#opd-cases button").count() == 0  # sees, cannot act
    opd_page = login(browser, gateway.url, "dam1")
    opd_page.wait_for_url("**/opd")
    opd_page.locator(f"#opd-cases [data-id='{fire['id']}'] button[data-step=acknowledged]").wait_for()


def test_case_published_by_a_unit_is_pushed_to_an_open_console_within_a_second(gateway, browser):
    """Pushed, not polled: the row must be rendered by a server-sent event
    (``data-via=push``); the console polls only while the stream is down."""
    import time

    from protocol.mqtt import BrokerSettings, connect, make_client
    from tests.gateway.support import incident

    register(gateway.db, "box-1", area="Taman")
    make_user(gateway.db, "op1", "operator")
    page = login(browser, gateway.url, "op1")
    page.wait_for_url("**/console")
    page.wait_for_selector("body[data-live=push]")  # the event stream is open
    link = BrokerSettings(host=gateway.cfg.broker.host, port=gateway.cfg.broker.port, session_expiry_s=0)
    unit = make_client("box-1", link)
    connect(unit, link, clean_start=True, blocking=True)
    unit.loop_start()
    try:
        msg = incident("box-1", 1, "medical")
        t0 = time.monotonic()
        unit.publish(device_topic("box-1", DeviceTopic.INCIDENT), encode(msg), qos=1).wait_for_publish(5)
        row = page.locator(f"#incidents tr[data-id='{msg.id}'][data-via=push]")
        # pushed proves itself by data-via=push (the poll runs only while the stream
        # is down); the 1 s target is measured by bench/push_latency.py, not here
        row.wait_for(timeout=10_000)
        took = time.monotonic() - t0
    finally:
        unit.loop_stop()
        unit.disconnect()
    print(f"case on the console {took * 1000:.0f} ms after the unit's publish")
    assert "alert" in row.get_attribute("class")  # critical and new: highlighted until opened
    shot(page, "live-queue.png")
    row.locator("td").first.click()
    assert "alert" not in page.locator(f"tr[data-id='{msg.id}']").get_attribute("class")


def test_a_burst_of_cases_costs_a_console_about_one_list_read_a_second(gateway, browser):
    """Forty cases in two seconds: the console shows every one, and asks the
    gateway for its list about once a second (at the whole second, so all
    consoles share one query), not once per event."""
    import time

    from protocol.mqtt import BrokerSettings, connect, make_client
    from tests.gateway.support import incident

    register(gateway.db, "box-1", area="Taman")
    make_user(gateway.db, "op1", "operator")
    page = login(browser, gateway.url, "op1")
    page.wait_for_url("**/console")
    page.wait_for_selector("body[data-live=push]")
    reads: list[float] = []
    page.on("request", lambda r: reads.append(time.monotonic()) if "/api/incidents?" in r.url else None)
    link = BrokerSettings(host=gateway.cfg.broker.host, port=gateway.cfg.broker.port, session_expiry_s=0)
    unit = make_client("box-1", link)
    connect(unit, link, clean_start=True, blocking=True)
    unit.loop_start()
    try:
        msgs = [incident("box-1", i, "medical") for i in range(1, 41)]
        t0 = time.monotonic()
        for m in msgs:
            unit.publish(device_topic("box-1", DeviceTopic.INCIDENT), encode(m), qos=1).wait_for_publish(5)
            time.sleep(0.05)
        page.locator(f"#incidents tr[data-id='{msgs[-1].id}']").wait_for(timeout=15_000)
        took = time.monotonic() - t0
    finally:
        unit.loop_stop()
        unit.disconnect()
    assert page.locator("#incidents tr[data-id]").count() >= 40
    during = [t for t in reads if t >= t0]
    # one at the first event, then at most one per whole second, and one more at the end
    assert 1 <= len(during) <= took + 3, (len(during), took)


def test_live_cases_fit_a_1280_px_screen_with_their_actions(gateway, browser):
    """On a 1280 px console every column of the live cases shows, the
    operator's buttons last among them (they were behind a sideways scroll:
    OPD parts and SLA kept on one line made the table 1507 px wide)."""
    register(gateway.db, "box-1", area="Kelurahan Sukamaju Kecamatan Lowokwaru")
    from tests.gateway.support import incident

    Intake(gateway.db, gateway.cfg, Metrics()).process(
        [Message(device_topic("box-1", DeviceTopic.INCIDENT), encode(incident("box-1", i, c)))
         for i, c in enumerate(["fire", "medical", "flood", "fallen_tree", "crime", "other"])])
    make_user(gateway.db, "op1", "operator")
    page = login(browser, gateway.url, "op1")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_url("**/console")
    page.wait_for_selector("#incidents tr[data-id] td:last-child button")
    table, card = page.evaluate("""() => { const t = document.querySelector('#incidents').closest('table');
        return [t.scrollWidth, t.parentElement.clientWidth]; }""")
    assert table <= card, f"table {table} px in a card of {card} px"
    right = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
        '#incidents td:last-child button')].map(b => b.getBoundingClientRect().right))""")
    assert right <= 1280
    shot(page, "console-1280.png")

"""The case page and the message catalogue in a real browser against a real
gateway: a panel's case shows its call record and timeline; the operator
adds a note, chooses the OPDs at triage and dispatches after confirmation;
the OPD acts on its part from a phone-sized screen; a case no OPD takes
stands out in the queue with the number to phone and is handed off; a
second report is merged into the first; no page shows a raw code, and the
English switch works per user. Screenshots: ``artifacts/case-page-*.png`` and friends (git-ignored)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from gateway import catalogue
from gateway.clock import utcnow
from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.runtime import Gateway
from protocol.codec import encode
from protocol.reports import CallEnd, CallRecord, Location, Source
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import api_client, incident, make_user, register, site_config
from tests.web.test_pages import login

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
POLICE_PHONE = "+62351000110"
CALLER = "+6281344445555"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def gateway(tmp_path, broker):
    police = {"polres": f"    contacts: [{{name: SPKT Polres, role: piket, phone: '{POLICE_PHONE}'}}]"}
    gw = Gateway(site_config(tmp_path, broker, opd_extra=police)).start()
    try:
        yield gw
    finally:
        gw.stop()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _panel_case(gw) -> str:
    """An information call answered at a panel: its call record and the case made from it."""
    register(gw.db, "panel-1", profile="panel")
    now = utcnow()
    call = CallRecord(device="panel-1", seq=1, direction="incoming", number=CALLER,
                      ring_at=now - timedelta(seconds=40), answered_at=now - timedelta(seconds=33),
                      ended_at=now - timedelta(seconds=5), answer_s=7.0, duration_s=28.0,
                      end_reason=CallEnd.REMOTE_HANGUP, operator="op1", call_type="information")
    inc = incident("panel-1", seq=2, category="fire", source=Source.PANEL_CALL, caller=CALLER,
                   call_id=call.id, call_type="information", description="Asap dari gudang, belum ada api",
                   location=Location(label="Jl. Pahlawan 12", area="Taman"))
    Intake(gw.db, gw.cfg, Metrics()).process([
        Message(device_topic("panel-1", DeviceTopic.CALL), encode(call)),
        Message(device_topic("panel-1", DeviceTopic.INCIDENT), encode(inc))])
    return inc.id


def test_case_page_call_record_note_triage_choice_and_opd_on_a_phone(gateway, browser):
    make_user(gateway.db, "op1", "operator")
    make_user(gateway.db, "dam1", "opd", opd="damkar")
    case_id = _panel_case(gateway)

    page = login(browser, gateway.url, "op1")
    page.wait_for_url("**/console")
    page.locator(f"tr[data-id='{case_id}'] a.case-link").click()
    page.wait_for_url(f"**/cases/{case_id}")
    call = page.locator("#call")
    call.wait_for()
    text = call.inner_text()
    assert CALLER in text and "7 s" in text and "28 s" in text and "op1" in text
    assert "Penelepon menutup" in text and "Informasi" in text
    assert "Telepon 112" in page.locator("#summary").inner_text()
    assert "Jl. Pahlawan 12" in page.locator("#summary").inner_text()
    assert page.locator("#caller .history").inner_text().startswith("1 panggilan")
    assert page.locator("#timeline li").count() >= 1

    # a note, with its author, on top of the timeline
    page.fill("#note-form textarea", "Penelepon: asap makin tebal, minta damkar dan BPBD")
    page.click("#note-form button[type=submit]")
    note = page.locator("#timeline li[data-event=note]").first
    note.wait_for()
    assert "op1" in note.inner_text() and "asap makin tebal" in note.inner_text()
    page.click("#note-form button[type=submit]")  # empty: refused next to the field
    page.locator("#note-form .field-error").wait_for()

    # triage, then the OPDs chosen by the operator (the rules' pick is ticked), confirmed
    page.click("#actions button[data-step=triaged]")
    page.wait_for_selector("#case[data-status=triaged]")
    assert page.locator(".opd-choice input[value=damkar]").is_checked()
    assert not page.locator(".opd-choice input[value=bpbd]").is_checked()
    page.check(".opd-choice input[value=bpbd]")
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#actions button[data-step=dispatched]")  # cancelled: nothing sent
    assert asked and "Dinas Pemadam Kebakaran" in asked[0] and "BPBD" in asked[0]
    assert page.locator("#case").get_attribute("data-status") == "triaged"
    page.once("dialog", lambda d: d.accept())
    page.click("#actions button[data-step=dispatched]")
    page.wait_for_selector("#parts .part-card[data-opd=bpbd]")
    assert page.locator("#parts .part-card[data-opd=damkar]").count() == 1
    sent = page.locator("#timeline li[data-event=status]").filter(has_text="Diverifikasi → Dikirim ke OPD")
    assert "Dinas Pemadam Kebakaran, BPBD" in sent.inner_text() and "op1" in sent.inner_text()
    shot(page, "case-page-operator")

    # the OPD officer on a phone: its own case, its own buttons, nothing cut off sideways
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone = ctx.new_page()
        phone.set_default_timeout(15_000)
        phone.goto(f"{gateway.url}/login?next=/cases/{case_id}")
        phone.fill("input[name=username]", "dam1")
        phone.fill("input[name=password]", "password-dam1")
        phone.click("button[type=submit]")
        phone.wait_for_url(f"**/cases/{case_id}")
        phone.locator("#actions input[name=responder]").fill("Regu 1 Pos Taman")
        phone.click("#actions button[data-step=acknowledged]")
        card = phone.locator("#parts .part-card[data-opd=damkar][data-status=acknowledged]")
        card.wait_for()
        assert "Regu 1 Pos Taman" in card.inner_text()
        assert phone.locator("#actions button[data-step=triaged]").count() == 0  # staff steps are not its own
        assert phone.locator("#caller").count() == 0  # the caller's history is for the desk
        wide = phone.evaluate("document.documentElement.scrollWidth")
        assert wide <= PHONE["width"], f"the page is {wide}px wide on a {PHONE['width']}px phone"
        shot(phone, "case-page-opd-phone")
    finally:
        ctx.close()
    # the operator's page follows (pushed): the OPD's acknowledgement is there without a reload
    page.wait_for_selector("#parts .part-card[data-opd=damkar][data-status=acknowledged]")


def test_handoff_row_stands_out_and_duplicates_merge(gateway, browser):
    token = make_user(gateway.db, "op1", "operator")
    with api_client(gateway.url, token) as api:
        crime = api.post("/api/incidents", json={"category": "crime", "caller": "+6281200001",
                                                 "location": {"area": "Kartoharjo"}}).json()
        first = api.post("/api/incidents", json={"category": "fire", "caller": "+6281200002",
                                                 "location": {"label": "Pasar Besar"}}).json()
        second = api.post("/api/incidents", json={"category": "fire", "caller": "+6281200003",
                                                  "description": "asap di pasar"}).json()
    page = login(browser, gateway.url, "op1")
    page.wait_for_url("**/console")
    row = page.locator(f"tr.handoff[data-id='{crime['id']}']")
    row.wait_for()
    assert POLICE_PHONE in row.inner_text() and "TELEPON" in row.inner_text()
    assert row.locator(f"a.phone[href='tel:{POLICE_PHONE}']").count() == 1
    shot(page, "handoff-row")
    page.once("dialog", lambda d: d.accept("Bripka Andi, SPKT"))
    row.locator("button[data-step=handoff]").click()
    page.wait_for_selector(f"#finished tr[data-id='{crime['id']}'][data-status=closed]")

    page.goto(f"{gateway.url}/cases/{second['case_no']}")
    page.fill("#actions input[name=merge-into]", first["case_no"])
    page.click("#actions button[data-step=merge]")
    page.wait_for_selector("#case[data-status=rejected]")
    link = page.locator(f"#linked a[data-case='{first['id']}']")
    assert link.inner_text() == first["case_no"]
    link.click()
    page.locator(f"#linked li[data-case='{second['id']}']").wait_for()
    shot(page, "case-page-merged")


def test_no_raw_codes_in_the_console_and_english_per_user(gateway, browser):
    token = make_user(gateway.db, "op1", "operator")
    make_user(gateway.db, "op2", "operator")
    with api_client(gateway.url, token) as api:
        api.post("/api/incidents", json={"category": "security_disturbance", "caller": "+6281200009"})
    page = login(browser, gateway.url, "op1")
    page.wait_for_url("**/console")
    page.locator("#incidents tbody tr").first.wait_for()
    options = page.locator("#category-select option").all_inner_texts()
    assert "Gangguan keamanan dan ketertiban" in options and "Kebakaran" in options
    codes = {c for kind in ("status", "category", "call_type", "source") for c in catalogue.LABELS[kind]}
    for sel in ("#category-select option", "#status-filter option", "#call-type-select option"):
        assert not codes & set(page.locator(sel).all_inner_texts()), sel
    cells = page.locator("#incidents tbody td").all_inner_texts()
    assert not codes & {c.strip() for c in cells} and "Gangguan keamanan dan ketertiban" in cells
    shot(page, "console-catalogue")

    page.click("#lang")  # English for this user on this browser
    page.wait_for_selector("html[lang=en]")
    page.locator("#incidents tbody tr").first.wait_for()
    assert "Security disturbance" in page.locator("#incidents tbody").inner_text()
    shot(page, "console-english")
    assert page.locator("#lang").inner_text() == "Bahasa Indonesia"
    page.click("#logout")  # another operator at the same browser keeps Bahasa Indonesia
    # the login page; with ?next=/console when a pushed read met the logout first
    page.wait_for_url(re.compile(r"/login(\?next=%2Fconsole)?$"))
    page.fill("input[name=username]", "op2")
    page.fill("input[name=password]", "password-op2")
    page.click("button[type=submit]")
    page.wait_for_url("**/console")
    page.wait_for_selector("html[lang=id]")
    page.locator("#incidents tbody tr").first.wait_for()
    assert "Gangguan keamanan" in page.locator("#incidents tbody").inner_text()

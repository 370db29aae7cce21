"""Assignments, responders and declines in the pages, in a real browser: a
fire goes to Damkar and PSC 119; PSC 119 declines it on a phone, Damkar
acknowledges naming its team, the operator sees the decline and adds BPBD,
the supervisor sees the decline on the dashboard. Screenshots go to
``artifacts/web/`` (or ``$SIAGA_ARTIFACTS``) for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from gateway.runtime import Gateway
from tests.gateway.support import make_user, site_config
from tests.web.test_pages import login

ARTIFACTS = Path(os.environ.get("SIAGA_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts" / "web"))
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def gateway(tmp_path, broker):
    gw = Gateway(site_config(tmp_path, broker, fire_opds="damkar, dinkes",
                             auto_sources="field_button, panel_call, operator")).start()
    try:
        yield gw
    finally:
        gw.stop()


def phone_login(browser, base: str, username: str):
    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password-" + username)
    page.click("button[type=submit]")
    return page


def test_assignments_responders_and_declines_in_the_pages(gateway, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = gateway.url
    op_token = make_user(gateway.db, "op1", "operator")
    make_user(gateway.db, "sup1", "supervisor")
    make_user(gateway.db, "dam1", "opd", opd="damkar")
    make_user(gateway.db, "med1", "opd", opd="dinkes")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {op_token}"}) as api:
        fire = api.post("/api/incidents", json={
            "category": "fire", "description": "Rumah terbakar, asap tebal, penghuni sudah keluar",
            "location": {"area": "Taman", "label": "Jl. Pahlawan 12"}}).json()
    card = f"article[data-id='{fire['id']}']"

    # PSC 119 on a phone: not theirs, declines with a reason
    med = phone_login(browser, base, "med1")
    med.wait_for_url("**/opd")
    med.locator(f"{card} details.decline summary").click()
    med.locator(f"{card} select[name=reason]").select_option("not_ours")
    med.locator(f"{card} input[name=note]").fill("tidak ada korban")
    med.locator(f"{card} button[data-step=declined]").click()
    med.wait_for_selector(f"{card}[data-status=declined]")
    assert "Ditolak oleh Dinas Kesehatan / PSC 119: Bukan wewenang kami (tidak ada korban)" in \
        med.locator(card).inner_text()
    assert med.locator(f"{card} button").count() == 0  # nothing left to do
    med.close()

    # Damkar on a phone: acknowledges naming its team, sees PSC 119's decline
    dam = phone_login(browser, base, "dam1")
    dam.wait_for_url("**/opd")
    dam.locator(f"{card} input[name=responder]").fill("Regu 2 Pos Taman")
    dam.locator(f"{card} button[data-step=acknowledged]").click()
    dam.wait_for_selector(f"{card}[data-status=acknowledged]")
    text = dam.locator(card).inner_text()
    assert "Ditangani: Regu/tim: Regu 2 Pos Taman" in text
    assert "Dinas Kesehatan / PSC 119 — Ditolak OPD" in text
    # now it may change its responder, report on scene, resolve or still decline
    steps = dam.locator(f"{card} button").evaluate_all("bs => bs.map(b => b.dataset.step)")
    assert steps == ["responder", "on_scene", "resolved", "declined"]
    assert "acknowledged" not in text and "not_ours" not in text  # words, not codes
    dam.screenshot(path=str(ARTIFACTS / "opd-portal-phone.png"), full_page=True)
    dam.close()

    # the operator sees the decline and who handles it, and adds BPBD
    page = login(browser, base, "op1")
    page.wait_for_url("**/console")
    row = page.locator(f"tr[data-id='{fire['id']}']")
    row.wait_for()
    assert "Ditolak oleh Dinas Kesehatan / PSC 119: Bukan wewenang kami" in row.inner_text()
    assert "Regu 2 Pos Taman" in row.inner_text()
    row.locator(".assign select").select_option("bpbd")
    # a new case redraws the list before the operator presses "add": the choice stays
    row.locator(".assign select").evaluate("s => s.blur()")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {op_token}"}) as api:
        other = api.post("/api/incidents", json={
            "category": "flood", "description": "Genangan di pasar",
            "location": {"area": "Taman", "label": "Pasar Besar"}}).json()
    page.wait_for_selector(f"tr[data-id='{other['id']}']")
    assert row.locator(".assign select").input_value() == "bpbd"
    row.locator("button[data-step=assign]").click()
    page.wait_for_selector(f"tr[data-id='{fire['id']}'] .part[data-opd=bpbd][data-status=dispatched]")
    assert page.locator(f"tr[data-id='{fire['id']}'] .flag").count() == 0  # re-routed: no longer waiting
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
    page.close()

    # the supervisor: PSC 119's decline, not counted in its speed
    dash = login(browser, base, "sup1")
    dash.wait_for_url("**/dashboard")
    dec = dash.locator("#decline-kpis tr[data-opd=dinkes]")
    dec.wait_for()
    cells = dec.locator("td").all_inner_texts()
    assert cells[1] == "1" and cells[2] == "Bukan wewenang kami: 1" and cells[4] != "–"
    dash.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    dash.close()

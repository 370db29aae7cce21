"""The pages as people use them, in a real browser against a real gateway:
an operator triages and dispatches, the OPD acknowledges in its portal (and
sees only its own cases), the supervisor sees it on the KPI dashboard."""

from __future__ import annotations

import httpx
import pytest

from gateway.runtime import Gateway
from tests.gateway.support import make_user, register, site_config


@pytest.fixture
def gateway(tmp_path, broker):
    gw = Gateway(site_config(tmp_path, broker)).start()
    try:
        yield gw
    finally:
        gw.stop()


def login(browser, base: str, username: str):
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password-" + username)
    page.click("button[type=submit]")
    return page


def test_operator_opd_supervisor_flow(gateway, browser):
    base = gateway.url
    register(gateway.db, "box-1", area="Taman")
    op_token = make_user(gateway.db, "op1", "operator")
    make_user(gateway.db, "sup1", "supervisor")
    make_user(gateway.db, "dam1", "opd", opd="damkar")
    make_user(gateway.db, "med1", "opd", opd="dinkes")

    # a crime report typed in by an operator stays "received" (no auto-dispatch for it)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {op_token}"}) as api:
        fire = api.post("/api/incidents", json={"category": "fire", "description": "Rumah terbakar <b>x</b>",
                                                "location": {"area": "Taman"}}).json()
        prank = api.post("/api/incidents", json={"category": "prank"}).json()
        again = api.post("/api/incidents", json={"category": "fire", "location": {"area": "Taman"}}).json()

    # operator console: the case is listed; triage, then dispatch to the rules' OPD
    page = login(browser, base, "op1")
    page.wait_for_url("**/console")
    row = page.locator(f"tr[data-id='{fire['id']}']")
    row.wait_for()
    assert row.get_attribute("data-status") == "received" and "Masuk" in row.inner_text()
    # the description is shown as text, never as markup
    assert page.locator("#incidents b").count() == 0
    row.locator("button[data-step=triaged]").click()
    page.wait_for_selector(f"tr[data-id='{fire['id']}'][data-status=triaged]")
    page.once("dialog", lambda d: d.accept())  # dispatch asks for confirmation
    row.locator("button[data-step=dispatched]").click()
    page.wait_for_selector(f"tr[data-id='{fire['id']}'] .part[data-opd=damkar]")
    # a prank is never routed: it is listed as rejected, with no action left
    prow = page.locator(f"tr[data-id='{prank['id']}']")
    assert prow.get_attribute("data-status") == "rejected" and prow.locator("button").count() == 0
    # a second report of the same fire: triaged, then rejected as a duplicate
    arow = page.locator(f"tr[data-id='{again['id']}']")
    arow.locator("button[data-step=triaged]").click()
    page.wait_for_selector(f"tr[data-id='{again['id']}'][data-status=triaged]")
    arow.locator("button[data-step='rejected:duplicate']").click()
    page.wait_for_selector(f"tr[data-id='{again['id']}'][data-status=rejected]")
    page.close()

    # the other OPD does not see Damkar's case
    other = login(browser, base, "med1")
    other.wait_for_url("**/opd")
    other.wait_for_selector("#refreshed:not(:empty)")
    assert other.locator(f"article[data-id='{fire['id']}']").count() == 0
    other.close()

    # Damkar's portal: acknowledge, then resolve
    opd = login(browser, base, "dam1")
    opd.wait_for_url("**/opd")
    orow = opd.locator(f"article[data-id='{fire['id']}']")
    orow.locator("button[data-step=acknowledged]").click()
    opd.wait_for_selector(f"article[data-id='{fire['id']}'][data-status=acknowledged]")
    orow.locator("button[data-step=resolved]").click()
    opd.wait_for_selector(f"article[data-id='{fire['id']}'][data-status=resolved]")
    # an OPD user's nav does not offer the staff console
    assert opd.locator("nav a[href='/console']").is_hidden()
    opd.close()

    # the supervisor's dashboard shows Damkar with one case and measured times
    dash = login(browser, base, "sup1")
    dash.wait_for_url("**/dashboard")
    damkar = dash.locator("tr[data-opd=damkar]")
    damkar.wait_for()
    cells = damkar.locator("td").all_inner_texts()
    assert cells[1] == "1"  # cases
    assert cells[3] != "–"  # ack median measured
    assert cells[5] != "–"  # resolve median measured
    assert dash.locator("#k-incidents").inner_text() == "3"
    dash.close()


def test_unauthenticated_page_redirects_to_login(gateway, browser):
    page = browser.new_page()
    page.goto(f"{gateway.url}/console")
    page.wait_for_url("**/login?next=%2Fconsole")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    assert "401" in page.locator("#error").inner_text()
    page.close()


def test_api_docs_need_no_internet(gateway, browser):
    """/docs loads Swagger UI from the gateway itself (a closed city network
    has no CDN) and renders the API's operations."""
    page = browser.new_page()
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(gateway.url)
            and not r.url.startswith("data:") else None)
    page.goto(f"{gateway.url}/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() > 10
    assert external == []
    page.close()


def test_console_shows_sms_reports_and_linked_calls(gateway, browser):
    from gateway.clock import utcnow
    from gateway.store.models import Incident
    from protocol.ids import new_id

    make_user(gateway.db, "op2", "operator")
    report, linked, call_id = new_id(), new_id(), new_id()
    now = utcnow()
    with gateway.db.session() as s:
        s.add(Incident(id=report, category="other", source="sms", priority=3, status="received",
                       caller="+6285700000001", description="banjir", received_at=now, updated_at=now))
        s.add(Incident(id=linked, device_id="box-9", category="fire", source="field_button", priority=1,
                       status="received", call_id=call_id, received_at=now, updated_at=now))
    page = login(browser, gateway.url, "op2")
    page.wait_for_url("**/console")
    cell = page.locator(f"tr[data-id='{report}'] td.source")
    cell.wait_for()
    assert cell.inner_text() == "Laporan SMS / SMS report"
    call_cell = page.locator(f"tr[data-id='{linked}'] td.source")
    assert "\u260e" in call_cell.inner_text() and call_id in call_cell.get_attribute("title")
    page.close()

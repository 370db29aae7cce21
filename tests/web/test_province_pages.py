"""A province gateway's pages in a real browser: each case shows its city,
the console filters by city, the case page offers no step (the city handles
it), and the dashboard counts the period's cases per city. The cases come in
through the province intake (gateway.province) on a real SQLite file."""

from __future__ import annotations

from gateway.config import parse_config
from gateway.province import ProvinceIntake
from gateway.runtime import Gateway
from tests.gateway.support import incident, make_user
from tests.gateway.test_province import PROVINCE, _msg
from tests.web.test_pages import login


def test_province_console_case_page_and_dashboard_show_the_city(tmp_path, browser):
    cfg = parse_config(PROVINCE.format(db=f"sqlite:///{tmp_path / 'province.db'}", extra="")
                       .replace("gateway: {", "gateway: {http: {host: 127.0.0.1, port: 0}, "))
    gw = Gateway(cfg, mqtt=False).start()
    try:
        intake = ProvinceIntake(gw.db, cfg, gw.metrics)
        a = [incident("box-01", seq=n, description=f"Kebakaran A{n}") for n in range(3)]
        b = [incident("box-01", seq=n, category="medical") for n in range(2)]
        intake.process([*(_msg("kota-a", "incident", m) for m in a),
                        *(_msg("kota-b", "incident", m) for m in b)])
        make_user(gw.db, "sup1", "supervisor")
        page = login(browser, gw.url, "sup1")
        page.wait_for_url(lambda u: "/login" not in u)
        page.goto(f"{gw.url}/console")
        for m in a + b:
            page.wait_for_selector(f"#incidents tr[data-id='{m.id}']")
        def place(m) -> str:
            return page.locator(f"#incidents tr[data-id='{m.id}'] td").nth(5).inner_text()

        assert place(a[0]).startswith("Kota A ·") and place(b[0]).startswith("Kota B ·")
        # no step offered for a case the city handles
        assert page.locator(f"#incidents tr[data-id='{a[0].id}'] td").nth(9).locator("button").count() == 0

        page.select_option("#city-filter", "kota-b")
        page.wait_for_function(f"!document.querySelector(\"#incidents tr[data-id='{a[0].id}']\")")
        rows = {r.get_attribute("data-id") for r in page.locator("#incidents tbody tr").all()}
        assert rows == {m.id for m in b}

        page.goto(f"{gw.url}/cases/{a[1].id}")
        page.wait_for_selector("text=Kota / City")
        facts = page.locator("dl.facts").first.inner_text()
        assert "Kota A (kota-a)" in facts
        assert "kota-a/box-01" in page.content()

        page.goto(f"{gw.url}/dashboard")
        page.wait_for_selector("#city-counts tr[data-city=kota-b]")
        cells = {c: [td.inner_text() for td in page.locator(f"#city-counts tr[data-city={c}] td").all()]
                 for c in ("kota-a", "kota-b")}
        assert cells["kota-a"][:4] == ["Kota A", "3", "0", "1"]
        assert cells["kota-b"][:4] == ["Kota B", "2", "0", "1"]
        page.close()
    finally:
        gw.stop()

"""The mayor's dashboard in a real browser: a known month seeded, the
mayor logs in, picks the month, and what the charts were drawn with
(Chart.js's own data, read back from the page) and the tables show equal
numbers computed by the test from the raw rows. Screenshot:
``artifacts/dashboard-report-card.png``."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from tests.gateway.report_seed import MONTH, expected_board, ranked, seed
from tests.gateway.support import make_user
from tests.web.test_pages import login

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def minutes(s: float | None) -> float | None:
    return None if s is None else math.floor(s / 60 * 100 + 0.5) / 100  # as the page's Math.round


def chart(page, cid: str) -> dict:
    return page.evaluate("""(id) => { const c = Chart.getChart(id);
        return { labels: c.data.labels, sets: c.data.datasets.map((d) => ({ label: d.label, data: d.data,
                 colors: d.backgroundColor })) }; }""", cid)


def test_mayor_sees_the_month_drawn_from_the_raw_rows(gateway, browser):
    rows = seed(gateway.db)
    make_user(gateway.db, "walikota", "mayor")
    page = login(browser, gateway.url, "walikota")
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(gateway.url) else None)
    page.wait_for_url("**/dashboard")
    page.wait_for_function("document.body.dataset.board === 'period=30d'")
    # the mayor's menu: the dashboard only
    visible = [a.get_attribute("href") for a in page.locator("nav a").all() if a.is_visible()]
    assert visible == ["/dashboard"]
    page.select_option("#period-kind", "month")
    page.fill("input[name=month]", MONTH)
    page.click("#period-form button[type=submit]")
    page.wait_for_function(f"document.body.dataset.board === 'period=month&month={MONTH}'")
    board = page.evaluate("board")
    want = expected_board(gateway.cfg, rows, datetime.now(UTC))
    order = ranked(want["kpis"]["opds"])
    names = [o["name"] for o in order]

    assert page.locator("#period-label").inner_text() == "Bulan Oktober 2026"
    assert page.locator("#prev-label").inner_text() == "Bulan September 2026"
    assert page.locator("#k-incidents").inner_text() == str(want["kpis"]["incidents"])
    # the table: fastest first, SLA coloured against the site's targets, change with an arrow
    assert [r.get_attribute("data-opd") for r in page.locator("#opd-kpis tbody tr").all()] == \
        [o["opd"] for o in order]
    changes = {c["opd"]: c for c in want["changes"]}
    for o in order:
        cells = page.locator(f"#opd-kpis tr[data-opd={o['opd']}] td")
        assert cells.nth(1).inner_text() == str(o["count"])
        share = o["ack_sla_compliance"]
        colour = "green" if share >= 0.9 else "amber" if share >= 0.75 else "red"
        assert f"sla-{colour}" in cells.nth(7).get_attribute("class")
        d = changes[o["opd"]]["count"]
        assert cells.nth(11).inner_text() == ("= tetap" if d == 0 else f"{'▲ +' if d > 0 else '▼ −'}{abs(d)}")
        ack = changes[o["opd"]]["ack_median_s"]
        assert cells.nth(10).inner_text().startswith("▲ lebih lambat" if ack > 0 else "▼ lebih cepat")

    # what Chart.js drew
    ack = chart(page, "chart-ack")
    assert ack["labels"] == names
    assert ack["sets"][0]["data"] == [minutes(o["ack_median_s"]) for o in order]
    assert ack["sets"][1]["data"] == [minutes(o["ack_p90_s"]) for o in order]
    res = chart(page, "chart-resolve")
    assert res["sets"][0]["data"] == [minutes(o["resolve_median_s"]) for o in order]
    sla = chart(page, "chart-sla")
    assert sla["sets"][0]["data"] == [math.floor(o["ack_sla_compliance"] * 1000 + 0.5) / 10 for o in order]
    dec_by = {d["opd"]: d["declines"] for d in want["declines"]}
    dec = chart(page, "chart-declines")
    assert dec["sets"][0]["data"] == [dec_by[o["opd"]] for o in order]
    assert dec["sets"][1]["data"] == [want["charts"]["rerouted"].get(o["opd"], 0) for o in order]
    assert all(dec["sets"][0]["data"]) and sum(dec["sets"][1]["data"]) > 10
    trend = {o["opd"]: o for o in want["charts"]["trend"]}
    got_trend = chart(page, "chart-trend")
    assert got_trend["labels"][0] == "Pekan 1 Okt" and len(got_trend["labels"]) == 5
    assert {s["label"]: s["data"] for s in got_trend["sets"]} == {
        board["opd_names"][o]: [minutes(m) for m in t["ack_median_s"]] for o, t in trend.items()}
    assert {s["label"]: s["data"] for s in chart(page, "chart-trend-count")["sets"]} == {
        board["opd_names"][o]: t["count"] for o, t in trend.items()}
    types = chart(page, "chart-calltypes")
    labels = {"untyped": "Belum ditandai", "emergency": "Darurat", "information": "Informasi",
              "prank": "Iseng", "ghost": "Kosong (diam)", "misdial": "Salah sambung"}
    assert {s["label"]: s["data"] for s in types["sets"]} == {
        labels[t]: v for t, v in want["charts"]["call_types"].items()}
    ans, wa = chart(page, "chart-answers"), want["charts"]["answers"]
    assert ans["sets"][0]["data"] == [*wa["counts"], wa["missed"], wa["abandoned"]]
    assert ans["labels"][-2:] == ["Tak terjawab", "Penelepon menutup"] and ans["labels"][2] == "10–15 detik"
    # hour x weekday, in local time
    heat = want["charts"]["heatmap"]
    for day, hour in ((0, 9), (4, 20), (6, 3)):
        cell = page.locator(f"#heatmap tr[data-day='{day}'] td[data-hour='{hour}']").inner_text()
        assert cell == (str(heat[day][hour]) if heat[day][hour] else "")
    # the report to download is this month's
    assert page.get_attribute("#download-pdf", "href") == f"/api/reports/rapor.pdf?period=month&month={MONTH}"
    pdf = page.request.get(gateway.url + page.get_attribute("#download-pdf", "href"))
    assert pdf.status == 200 and pdf.body()[:5] == b"%PDF-"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-report-card.png"), full_page=True)

    # a custom week: the period is printed, and a bad one is refused next to the picker
    page.select_option("#period-kind", "custom")
    page.fill("input[name=start]", "2026-10-05")
    page.fill("input[name=end]", "2026-10-11")
    page.click("#period-form button[type=submit]")
    page.wait_for_function("document.body.dataset.board.includes('start=2026-10-05')")
    assert page.locator("#period-label").inner_text() == "5 Oktober 2026 – 11 Oktober 2026"
    assert chart(page, "chart-trend")["labels"] == [f"{d} Okt" for d in range(5, 12)]
    page.fill("input[name=end]", "2026-10-01")
    page.click("#period-form button[type=submit]")
    err = page.locator("#period-form .field-error")
    err.wait_for()
    assert "tanggal akhir sebelum tanggal awal" in err.inner_text()
    assert external == []  # Chart.js comes from the gateway, not a CDN
    page.set_viewport_size({"width": 390, "height": 844})  # the mayor's phone
    page.select_option("#period-kind", "month")
    page.click("#period-form button[type=submit]")
    page.wait_for_function(f"document.body.dataset.board === 'period=month&month={MONTH}'")
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    page.close()

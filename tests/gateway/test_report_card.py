"""The mayor's report card through a real gateway, on SQLite and PostgreSQL:
a known month (declines, re-routes, missed and abandoned calls) seeded
into the database; the dashboard API, the monthly PDF (its text read back
with pypdf) and the CSV checked against numbers computed here from the raw
rows; who may read them (the mayor, supervisors; not operators, not OPDs);
bad periods refused. The PDF's first two pages are rendered to PNG under
``artifacts/``."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from gateway.kpi_board import Board
from gateway.report_text import change_dur, dur, pct
from tests.gateway.report_seed import MONTH, PREV_SINCE, SINCE, UNTIL, expected_board, ranked, seed
from tests.gateway.support import api_client, make_user, site_config, site_yaml

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def seeded(tmp_path, broker, db_url, start_gateway):
    cfg = site_config(tmp_path, broker, db_url=db_url)
    # the expected numbers are the seeded rows': this gateway's own SLA watch
    # must not escalate the seeded open parts while the test reads the board
    cfg = cfg.model_copy(update={"gateway": cfg.gateway.model_copy(update={"sla_check_s": 600.0})})
    gw = start_gateway(cfg)
    rows = seed(gw.db)
    return gw, cfg, rows


def _pdf_pages(data: bytes) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages]


def test_dashboard_pdf_and_csv_equal_the_raw_rows(seeded, db_url):
    gw, cfg, rows = seeded
    sup = make_user(gw.db, "sup", "supervisor")
    with api_client(gw.url, sup) as api:
        r = api.get("/api/dashboard", params={"period": "month", "month": MONTH})
        assert r.status_code == 200, r.text
        board = Board.model_validate(r.json())
        pdf = api.get("/api/reports/rapor.pdf", params={"period": "month", "month": MONTH})
        csv_text = api.get("/api/reports/rapor.csv", params={"period": "month", "month": MONTH}).text
    want = expected_board(cfg, rows, board.kpis.computed_at)
    got = board.model_dump()

    # the period, printed, and the one before it
    assert (board.period.since, board.period.until, board.period.prev_since) == (SINCE, UNTIL, PREV_SINCE)
    assert board.period.label == "Bulan Oktober 2026" and board.period.prev_label == "Bulan September 2026"
    # the KPI table, this month and the previous one, and the change
    got_kpis = got["kpis"]
    got_kpis.pop("computed_at")
    assert got_kpis["opds"] == want["kpis"].pop("opds")
    assert {k: got_kpis[k] for k in want["kpis"]} == want["kpis"]
    assert got["previous"] == want["previous"] and got["changes"] == want["changes"]
    # the month really holds what the dashboard must show
    assert all(d["declines"] for d in want["declines"]) and sum(want["charts"]["rerouted"].values()) > 10
    assert want["charts"]["answers"]["missed"] > 20 and want["charts"]["answers"]["abandoned"] > 10
    # declines and re-routes per OPD
    assert [{k: d[k] for k in want["declines"][0]} for d in got["declines"]] == want["declines"]
    ch, wch = got["charts"], want["charts"]
    assert ch["rerouted"] == wch["rerouted"]
    # weekly trend, hour x weekday, call types over time, answer bands
    assert ch["buckets"]["step"] == "week" and ch["buckets"]["starts"] == wch["starts"]
    assert ch["buckets"]["labels"] == ["Pekan 1 Okt", "Pekan 5 Okt", "Pekan 12 Okt", "Pekan 19 Okt",
                                       "Pekan 26 Okt"]
    assert ch["trend"] == wch["trend"]
    assert ch["heatmap"] == wch["heatmap"] and sum(map(sum, ch["heatmap"])) == board.kpis.incidents
    assert ch["call_types"] == wch["call_types"] and "untyped" in ch["call_types"]
    assert {k: ch["answers"][k] for k in wch["answers"]} == wch["answers"]

    # the PDF: a summary page, then one page per OPD, fastest first, same numbers
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f"rapor-opd-{MONTH}.pdf" in pdf.headers["content-disposition"]
    pages = _pdf_pages(pdf.content)
    order = ranked(board.model_dump()["kpis"]["opds"])
    assert len(pages) >= 1 + len(order)
    summary = pages[0]
    assert "Rapor OPD — Kota Uji" in summary and "Bulan Oktober 2026" in summary
    assert "Bulan September 2026" in summary
    kp = board.kpis
    assert f"{kp.incidents} {kp.open_backlog} {pct(kp.prank_test_share)} {kp.calls.calls}" in summary
    assert f"{wch['answers']['missed']} {wch['answers']['abandoned']}" in summary
    positions = [summary.index(o["name"]) for o in order]
    assert positions == sorted(positions)  # ranked fast to slow
    for i, o in enumerate(order, 1):
        line = (f"{i} {o['name']} {o['count']} {dur(o['ack_median_s'])} {dur(o['ack_p90_s'])} "
                f"{dur(o['resolve_median_s'])} {dur(o['resolve_p90_s'])} {pct(o['ack_sla_compliance'])} "
                f"{pct(o['resolve_sla_compliance'])}")
        assert line in summary, line
    changes = {c["opd"]: c for c in want["changes"]}
    prev = {p["opd"]: p for p in want["previous"]}
    dec = {d["opd"]: d for d in want["declines"]}
    for o in order:
        page = next(p for p in pages[1:] if f"{o['name']} Periode: Bulan Oktober 2026" in p)
        assert f"Kasus {o['count']} {prev[o['opd']]['count']}" in page
        assert (f"Tanggap median {dur(o['ack_median_s'])} {dur(prev[o['opd']]['ack_median_s'])} "
                f"{change_dur(changes[o['opd']]['ack_median_s'])}") in page
        assert f"SLA tanggap {pct(o['ack_sla_compliance'])}" in page
        assert f"Ditolak OPD {dec[o['opd']]['declines']}" in page
        assert f"Dialihkan ke OPD lain {wch['rerouted'].get(o['opd'], 0)}" in page

    # the CSV: one row per OPD, ranked, raw numbers
    table = list(csv.DictReader(io.StringIO(csv_text)))
    assert [r["opd"] for r in table] == [o["opd"] for o in order]
    for r, o in zip(table, order, strict=True):
        assert int(r["kasus"]) == o["count"] and float(r["tanggap_median_detik"]) == o["ack_median_s"]
        assert float(r["sla_tanggap"]) == o["ack_sla_compliance"]
        assert int(r["ditolak"]) == dec[o["opd"]]["declines"]
        assert int(r["dialihkan"]) == wch["rerouted"].get(o["opd"], 0)
        assert int(r["prev_kasus"]) == prev[o["opd"]]["count"]

    if db_url.startswith("sqlite"):
        import pypdfium2 as pdfium

        ARTIFACTS.mkdir(exist_ok=True)
        doc = pdfium.PdfDocument(pdf.content)
        for i in range(2):
            path = ARTIFACTS / f"rapor-page-{i + 1}.png"
            doc[i].render(scale=1.5).to_pil().save(path)
            assert path.stat().st_size > 10_000
        doc.close()


def test_mayor_reads_the_dashboard_and_reports_only(seeded):
    gw, _cfg, _rows = seeded
    mayor, op = make_user(gw.db, "walikota", "mayor"), make_user(gw.db, "op1", "operator")
    dam = make_user(gw.db, "dam1", "opd", opd="damkar")
    with api_client(gw.url, mayor) as api:
        for path in ("/api/dashboard", "/api/kpis", "/api/kpis/declines", "/api/opds", "/api/auth/me",
                     f"/api/reports/rapor.csv?month={MONTH}"):
            assert api.get(path).status_code == 200, path
        for path in ("/api/incidents", "/api/incidents/MDN-2026-000001", "/api/calls", "/api/devices",
                     "/api/flags", "/api/export/incidents.csv", "/api/deliveries"):
            r = api.get(path)
            assert r.status_code == 403 and "wali kota" in r.json()["detail"], path
        r = api.post("/api/incidents", json={"category": "fire"})
        assert r.status_code == 403
        r = api.post("/api/incidents/MDN-2026-000001/transitions", json={"to": "closed"})
        assert r.status_code == 403
        assert api.post("/api/auth/tokens", json={"name": "x"}).status_code == 403
    # operators run the desk; the report card is the supervisors' and the mayor's
    for tok in (op, dam):
        with api_client(gw.url, tok) as api:
            assert api.get("/api/dashboard").status_code == 403
            assert api.get("/api/kpis").status_code == 403
            assert api.get(f"/api/reports/rapor.pdf?month={MONTH}").status_code == 403


@pytest.mark.parametrize(("params", "word"), [
    ({"period": "month", "month": "2026-13"}, "bulan tidak valid"),
    ({"period": "month", "month": "Okt"}, "bulan tidak valid"),
    ({"period": "custom", "start": "2026-10-05", "end": "2026-10-01"}, "sebelum tanggal awal"),
    ({"period": "custom", "start": "2026-10-05"}, "butuh tanggal awal dan akhir"),
    ({"period": "custom", "start": "2024-01-01", "end": "2026-10-01"}, "paling lama"),
    ({"period": "custom", "start": "0001-01-01", "end": "0001-01-02"}, "2000"),
    ({"period": "kemarin"}, ""),
])
def test_bad_periods_are_refused_and_counted(tmp_path, broker, start_gateway, params, word):
    gw = start_gateway(site_config(tmp_path, broker))
    sup = make_user(gw.db, "sup", "supervisor")
    before = gw.metrics.bad_periods._value.get()
    with api_client(gw.url, sup) as api:
        for path in ("/api/dashboard", "/api/reports/rapor.pdf"):
            r = api.get(path, params=params)
            assert r.status_code == 422 and word in r.text, r.text
    if word:  # refused by the period rules, not by the query's type
        assert gw.metrics.bad_periods._value.get() == before + 2


def test_report_command(tmp_path, broker, start_gateway):
    """`siaga gateway report`: help, progress, the PDF; a bad month is refused."""
    cfg_file = tmp_path / "site.yaml"
    cfg_file.write_text(site_yaml(tmp_path, broker))
    gw = start_gateway(site_config(tmp_path, broker))
    seed(gw.db, 300)
    siaga = [str(Path(sys.executable).parent / "siaga"), "gateway", "--config", str(cfg_file), "report"]
    help_ = subprocess.run([*siaga, "--help"], capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0 and "--month" in help_.stdout and "YYYY-MM" in help_.stdout
    bad = subprocess.run([*siaga, "--month", "2026-13", "--out", str(tmp_path / "x.pdf")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "bulan tidak valid / invalid month '2026-13'" in bad.stderr
    assert not (tmp_path / "x.pdf").exists()
    future = subprocess.run([*siaga, "--month", "2999-01", "--out", str(tmp_path / "x.pdf")],
                            capture_output=True, text=True, timeout=60)
    assert future.returncode == 2 and "belum dimulai" in future.stderr
    out, csv_out = tmp_path / "rapor.pdf", tmp_path / "rapor.csv"
    ok = subprocess.run([*siaga, "--month", MONTH, "--out", str(out), "--csv", str(csv_out)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "Halaman ringkasan" in ok.stdout and "Halaman OPD / OPD page 4/4" in ok.stdout
    assert "Selesai / done" in ok.stdout
    pages = _pdf_pages(out.read_bytes())
    assert "Bulan Oktober 2026" in pages[0] and len(pages) >= 5
    assert csv_out.read_text().startswith("peringkat,opd,nama")

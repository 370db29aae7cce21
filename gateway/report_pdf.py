"""The monthly report ("rapor OPD") as a PDF: a summary page, then one page per OPD.

Made with reportlab (tables with platypus, charts with reportlab.graphics,
no other plotting library) from the same :class:`gateway.kpi_board.Board`
the dashboard shows, so the paper and the screen agree. Text in Bahasa
Indonesia, in the PDF's standard Helvetica (WinAnsi: "<=" rather than
the "≤" sign the page uses).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gateway.kpi import OpdKpi
from gateway.kpi_board import Board, OpdChange
from gateway.report_text import change_count, change_dur, change_pct, dur, pct, sla_level

BRAND = colors.HexColor("#c62828")
LEVEL = {"green": colors.HexColor("#c8e6c9"), "amber": colors.HexColor("#ffe0b2"),
         "red": colors.HexColor("#ffcdd2"), "none": colors.white}
BAR = (colors.HexColor("#1565c0"), colors.HexColor("#90caf9"))
WIDTH = A4[0] - 30 * mm


def _t(s: str) -> str:
    return s.replace("≤", "<=").replace("→", "->")


def _styles() -> dict[str, ParagraphStyle]:
    ss = getSampleStyleSheet()
    return {"h1": ParagraphStyle("h1", parent=ss["Heading1"], textColor=BRAND, fontSize=17, spaceAfter=4),
            "h2": ParagraphStyle("h2", parent=ss["Heading2"], fontSize=12, spaceBefore=8, spaceAfter=4),
            "p": ParagraphStyle("p", parent=ss["BodyText"], fontSize=9, leading=12),
            "small": ParagraphStyle("small", parent=ss["BodyText"], fontSize=7.5, leading=10,
                                    textColor=colors.HexColor("#5b6b7c"))}


def _table(rows: list[list[Any]], widths: list[float] | None = None,
           cell_bg: list[tuple[int, int, Any]] | None = None, left: int = 0) -> Table:
    """A table, numbers right-aligned from column ``left + 1``; ``cell_bg``: (col, row, colour)."""
    t = Table([[_t(str(c)) for c in r] for r in rows], colWidths=widths, repeatRows=1)
    style = [("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5), ("FONT", (0, 1), (-1, -1), "Helvetica", 7.5),
             ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d9e0e7")),
             ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (left + 1, 1), (-1, -1), "RIGHT"),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef3f8"))]
    style += [("BACKGROUND", (c, r), (c, r), bg) for c, r, bg in cell_bg or ()]
    t.setStyle(TableStyle(style))
    return t


def ranked(b: Board) -> list[OpdKpi]:
    """OPDs fast to slow by median time to acknowledge (none measured: last)."""
    return sorted(b.kpis.opds, key=lambda o: (o.ack_median_s is None, o.ack_median_s or 0.0))


def _bars(title: str, names: list[str], series: list[list[float]], legend: list[str],
          horizontal: bool = True, height: float = 150) -> Drawing:
    d = Drawing(WIDTH, height + 30)
    chart: Any = HorizontalBarChart() if horizontal else VerticalBarChart()
    left = 120 if horizontal else 35
    chart.x, chart.y, chart.width, chart.height = left, 20, WIDTH - left - 110, height - 10
    chart.data = [[round(v, 1) for v in s] for s in series] or [[0]]
    chart.categoryAxis.categoryNames = [_t(n)[:28] for n in names] or [""]
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    if not horizontal:
        chart.categoryAxis.labels.angle = 30 if len(names) > 8 else 0
        chart.categoryAxis.labels.boxAnchor = "ne" if len(names) > 8 else "n"
    for i, c in enumerate(BAR[:len(chart.data)]):
        chart.bars[i].fillColor = c
    d.add(chart)
    d.add(String(0, height + 16, _t(title), fontName="Helvetica-Bold", fontSize=9))
    lg = Legend()
    lg.x, lg.y, lg.fontSize = WIDTH - 100, height, 7
    lg.colorNamePairs = list(zip(BAR, legend, strict=False))
    d.add(lg)
    return d


def _summary(b: Board, site: str, st: dict[str, ParagraphStyle], tz: ZoneInfo) -> list[Any]:
    k, c, a = b.kpis, b.kpis.calls, b.charts.answers
    out: list[Any] = [
        Paragraph(_t(f"Rapor OPD — {site}"), st["h1"]),
        Paragraph(_t(f"<b>Periode:</b> {b.period.label} &nbsp; <b>Dibandingkan dengan:</b> "
                     f"{b.period.prev_label}"), st["p"]),
        Paragraph(f"Dihitung {b.computed_at.astimezone(tz):%d-%m-%Y %H.%M} ({b.period.timezone}). "
                  "Bagian yang ditolak atau dialihkan OPD tidak dihitung dalam kecepatan OPD itu.",
                  st["small"]),
        Paragraph("Ringkasan", st["h2"]),
        _table([["Laporan\nmasuk", "Belum\nselesai", "Iseng\n+ uji", "Panggilan\n112", "Dijawab\n<=15 detik",
                 "Dijawab\n<=20 detik", "Tak\nterjawab", "Penelepon menutup\nsebelum dijawab"],
                [k.incidents, k.open_backlog, pct(k.prank_test_share), c.calls,
                 f"{pct(c.within_15s)} (target 90 %)", f"{pct(c.within_20s)} (target 95 %)", a.missed,
                 a.abandoned]]),
        Paragraph("Kecepatan OPD, dari yang tercepat", st["h2"]),
    ]
    changes = {ch.opd: ch for ch in b.changes}
    rows: list[list[Any]] = [["#", "OPD", "Kasus", "Tanggap\nmedian", "Tanggap\np90", "Selesai\nmedian",
                              "Selesai\np90", "SLA\ntanggap", "SLA\nselesai", "Ditolak", "Dialih-\nkan",
                              "Perubahan\ntanggap"]]
    bg = []
    dec = {d.opd: d.declines for d in b.declines}
    for i, o in enumerate(ranked(b), 1):
        rows.append([i, o.name[:26], o.count, dur(o.ack_median_s), dur(o.ack_p90_s), dur(o.resolve_median_s),
                     dur(o.resolve_p90_s), pct(o.ack_sla_compliance), pct(o.resolve_sla_compliance),
                     dec.get(o.opd, 0), b.charts.rerouted.get(o.opd, 0),
                     change_dur(changes[o.opd].ack_median_s).replace("at ", "at\n", 1)])
        for col, share in ((7, o.ack_sla_compliance), (8, o.resolve_sla_compliance)):
            bg.append((col, i, LEVEL[sla_level(share, b.targets.sla_good, b.targets.sla_warn)]))
    out.append(_table(rows, [w * mm for w in (6, 38, 11, 15, 15, 15, 14, 12, 12, 11, 11, 20)], bg, left=1))
    out.append(Paragraph(_t(f"Warna SLA: hijau >= {pct(b.targets.sla_good)}, kuning >= "
                            f"{pct(b.targets.sla_warn)}, merah di bawahnya."), st["small"]))
    r = ranked(b)[::-1]  # reportlab draws the first bar at the bottom: the fastest on top
    out.append(_bars("Waktu tanggap per OPD (menit)", [o.name for o in r],
                     [[(o.ack_median_s or 0) / 60 for o in r], [(o.ack_p90_s or 0) / 60 for o in r]],
                     ["median", "p90"], height=max(90, 22 * len(r))))
    out.append(_bars("Waktu jawab panggilan 112 (jumlah panggilan)", a.labels, [[float(n) for n in a.counts]],
                     ["dijawab"], horizontal=False, height=110))
    return out


def _opd_page(b: Board, o: OpdKpi, prev: OpdKpi | None, ch: OpdChange,
              st: dict[str, ParagraphStyle]) -> list[Any]:
    dec = next((d for d in b.declines if d.opd == o.opd), None)
    g, w = b.targets.sla_good, b.targets.sla_warn
    rows: list[list[Any]] = [
        ["Ukuran", "Periode ini", "Periode sebelumnya", "Perubahan"],
        ["Kasus", o.count, prev.count if prev else 0, change_count(ch.count)],
        ["Ditanggapi", o.acknowledged, prev.acknowledged if prev else 0, ""],
        ["Selesai", o.resolved, prev.resolved if prev else 0, ""],
        ["Belum selesai", o.open, prev.open if prev else 0, ""],
        ["Tanggap median", dur(o.ack_median_s), dur(prev.ack_median_s if prev else None),
         change_dur(ch.ack_median_s)],
        ["Tanggap p90", dur(o.ack_p90_s), dur(prev.ack_p90_s if prev else None), ""],
        ["Selesai median", dur(o.resolve_median_s), dur(prev.resolve_median_s if prev else None),
         change_dur(ch.resolve_median_s)],
        ["Selesai p90", dur(o.resolve_p90_s), dur(prev.resolve_p90_s if prev else None), ""],
        ["SLA tanggap", pct(o.ack_sla_compliance), pct(prev.ack_sla_compliance if prev else None),
         change_pct(ch.ack_sla_compliance)],
        ["SLA selesai", pct(o.resolve_sla_compliance),
         pct(prev.resolve_sla_compliance if prev else None),
         change_pct(ch.resolve_sla_compliance)],
        ["Eskalasi", o.escalations, prev.escalations if prev else 0, ""],
        ["Ditolak OPD", dec.declines if dec else 0, "", ""],
        ["Dialihkan ke OPD lain", b.charts.rerouted.get(o.opd, 0), "", ""],
        ["Tolak -> kirim ulang (median)", dur(dec.reroute_median_s if dec else None), "", ""],
    ]
    bg = [(1, 9, LEVEL[sla_level(o.ack_sla_compliance, g, w)]),
          (1, 10, LEVEL[sla_level(o.resolve_sla_compliance, g, w)])]
    out: list[Any] = [PageBreak(), Paragraph(_t(o.name), st["h1"]),
                      Paragraph(_t(f"Periode: {b.period.label} — dibandingkan dengan {b.period.prev_label}"),
                                st["p"]),
                      Spacer(1, 4), _table(rows, [60 * mm, 35 * mm, 40 * mm, 45 * mm], bg)]
    if dec and dec.by_reason:
        from gateway.kpi_board import DECLINE_LABELS

        out.append(Paragraph(_t("Alasan penolakan: " + ", ".join(
            f"{DECLINE_LABELS.get(r, r)} {n}" for r, n in sorted(dec.by_reason.items()))), st["p"]))
    tr = next((t for t in b.charts.trend if t.opd == o.opd), None)
    if tr is not None:
        step = {"day": "hari", "week": "pekan", "month": "bulan"}[b.charts.buckets.step]
        out.append(Spacer(1, 6))
        out.append(_bars(f"Tren per {step}: kasus", b.charts.buckets.labels, [[float(n) for n in tr.count]],
                         ["kasus"], horizontal=False, height=110))
        out.append(_bars(f"Tren per {step}: waktu tanggap median (menit)", b.charts.buckets.labels,
                         [[(m or 0) / 60 for m in tr.ack_median_s]], ["median"], horizontal=False,
                         height=110))
    return out


def render(b: Board, site: str, progress: Callable[[str], None] | None = None) -> bytes:
    """The PDF's bytes; ``progress`` is told each page as it is laid out."""
    say = progress or (lambda _m: None)
    st = _styles()
    tz = ZoneInfo(b.period.timezone)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=f"Rapor OPD {site} {b.period.label}",
                            author="Siaga 112", lang="id")
    say("Halaman ringkasan / summary page")
    story = _summary(b, site, st, tz)
    prev = {o.opd: o for o in b.previous}
    changes = {c.opd: c for c in b.changes}
    opds = ranked(b)
    for i, o in enumerate(opds, 1):
        say(f"Halaman OPD / OPD page {i}/{len(opds)}: {o.name}")
        story += _opd_page(b, o, prev.get(o.opd), changes[o.opd], st)

    def footer(canvas: Any, d: Any) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#5b6b7c"))
        canvas.drawString(15 * mm, 8 * mm, _t(f"Siaga 112 — {site} — {b.period.label}"))
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"Halaman {d.page}")

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    say(f"{doc.page} halaman / pages")
    return buf.getvalue()

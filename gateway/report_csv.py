"""The report's numbers as CSV: one row per OPD (ranked fast to slow, as in
the PDF), this period beside the previous one. Raw values (seconds,
shares 0..1) for spreadsheets; the header names them in Bahasa Indonesia
with the unit."""

from __future__ import annotations

import csv
import io

from gateway.kpi_board import Board
from gateway.report_pdf import ranked

HEADER = ("peringkat", "opd", "nama", "periode", "kasus", "ditanggapi", "selesai", "belum_selesai",
          "tanggap_median_detik", "tanggap_p90_detik", "selesai_median_detik", "selesai_p90_detik",
          "sla_tanggap", "sla_selesai", "eskalasi", "ditolak", "dialihkan",
          "tolak_kirim_ulang_median_detik",
          "prev_kasus", "prev_tanggap_median_detik", "prev_selesai_median_detik", "prev_sla_tanggap",
          "prev_sla_selesai")


def _v(x: float | int | str | None) -> str:
    return "" if x is None else repr(x) if isinstance(x, float) else str(x)


def render(b: Board) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    prev = {o.opd: o for o in b.previous}
    dec = {d.opd: d for d in b.declines}
    for i, o in enumerate(ranked(b), 1):
        p, d = prev.get(o.opd), dec.get(o.opd)
        w.writerow([_v(x) for x in (
            i, o.opd, o.name, b.period.label, o.count, o.acknowledged, o.resolved, o.open,
            o.ack_median_s, o.ack_p90_s, o.resolve_median_s, o.resolve_p90_s,
            o.ack_sla_compliance, o.resolve_sla_compliance, o.escalations,
            d.declines if d else 0, b.charts.rerouted.get(o.opd, 0), d.reroute_median_s if d else None,
            p.count if p else 0, (p.ack_median_s if p else None), (p.resolve_median_s if p else None),
            (p.ack_sla_compliance if p else None), (p.resolve_sla_compliance if p else None))])
    return buf.getvalue()

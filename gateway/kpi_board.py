"""Everything the mayor's dashboard and the monthly report show, for one period.

One object for the page (``GET /api/dashboard``), the PDF and the CSV, so
the three always carry the same numbers: the KPI report of
:mod:`gateway.kpi`, the previous period's per-OPD figures and the change
against them, the declines of :mod:`gateway.kpi_declines` and the chart
series of :mod:`gateway.kpi_charts`, plus the site's targets the colours
are judged against.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from gateway import kpi, kpi_charts
from gateway.clock import utcnow
from gateway.config.models import SiteConfig
from gateway.kpi_declines import OpdDeclines, declines
from gateway.kpi_period import Period
from protocol.categories import CATALOGUE, Category
from protocol.reports import CallType

#: call types and end reasons in words (the page, the PDF, the CSV)
CALL_TYPE_LABELS = {CallType.EMERGENCY.value: "Darurat", CallType.INFORMATION.value: "Informasi",
                    CallType.GHOST.value: "Kosong (diam)", CallType.PRANK.value: "Iseng",
                    CallType.TEST.value: "Uji", CallType.MISDIAL.value: "Salah sambung",
                    "untyped": "Belum ditandai"}
END_REASON_LABELS = {"remote_hangup": "Ditutup penelepon", "local_hangup": "Ditutup operator",
                     "missed": "Tak terjawab", "abandoned": "Penelepon menutup sebelum dijawab",
                     "no_answer": "Tidak diangkat", "busy": "Sibuk", "no_carrier": "Sambungan putus",
                     "modem_reset": "Modem mulai ulang"}

DECLINE_LABELS = {"not_ours": "Bukan wewenang kami", "no_capacity": "Tidak ada kapasitas",
                  "duplicate": "Laporan ganda", "other": "Alasan lain"}


class Targets(BaseModel):
    sla_good: float = Field(description="SLA compliance at or above this is green")
    sla_warn: float = Field(description="At or above this (below sla_good) amber; below it red")
    answer: list[tuple[float, float]] = Field(
        description="(seconds, share): 90 % within 15 s, 95 % within 20 s")
    sla_minutes: dict[str, tuple[float | None, float | None]] = Field(
        description="Per category: minutes to acknowledge and to resolve (the site's overrides)")


class OpdChange(BaseModel):
    """This period minus the previous one (None: one side has no value)."""

    opd: str
    count: int
    ack_median_s: float | None
    resolve_median_s: float | None
    ack_sla_compliance: float | None
    resolve_sla_compliance: float | None


class Board(BaseModel):
    period: Period
    kpis: kpi.KpiReport
    previous: list[kpi.OpdKpi] = Field(description="The OPDs' figures in the previous period")
    changes: list[OpdChange]
    declines: list[OpdDeclines]
    charts: kpi_charts.Charts
    targets: Targets
    opd_names: dict[str, str]
    category_labels: dict[str, str]
    call_type_labels: dict[str, str]
    end_reason_labels: dict[str, str]
    computed_at: datetime


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def targets(cfg: SiteConfig) -> Targets:
    from gateway.routing import sla_for

    return Targets(sla_good=cfg.site.sla_good, sla_warn=cfg.site.sla_warn, answer=list(kpi.ANSWER_TARGETS),
                   sla_minutes={c.value: sla_for(cfg, c) for c in Category if CATALOGUE[c].routed})


def compute(session: Session, cfg: SiteConfig, period: Period) -> Board:
    from gateway.kpi_rollup_read import shared

    with shared(session, cfg.site.timezone):  # one rollup reader for every part
        return _compute(session, cfg, period)


def _compute(session: Session, cfg: SiteConfig, period: Period) -> Board:
    now = utcnow()
    hours = kpi_charts.incident_hours(session, period.since, period.until, cfg.site.timezone)
    report = kpi.compute(session, cfg, period.since, period.until, local_hours=hours)
    prev = kpi._opds(session, cfg, period.prev_since, period.prev_until, now)
    prev_by = {o.opd: o for o in prev}
    changes = []
    for o in report.opds:
        p = prev_by.get(o.opd)
        changes.append(OpdChange(
            opd=o.opd, count=o.count - (p.count if p else 0),
            ack_median_s=_diff(o.ack_median_s, p.ack_median_s if p else None),
            resolve_median_s=_diff(o.resolve_median_s, p.resolve_median_s if p else None),
            ack_sla_compliance=_diff(o.ack_sla_compliance, p.ack_sla_compliance if p else None),
            resolve_sla_compliance=_diff(o.resolve_sla_compliance,
                                         p.resolve_sla_compliance if p else None)))
    opd_ids = [o.opd for o in report.opds]
    return Board(
        period=period, kpis=report, previous=prev, changes=changes,
        declines=declines(session, cfg, period.since, period.until, recent=False).opds,
        charts=kpi_charts.compute(session, period.since, period.until, cfg.site.timezone, opd_ids, hours),
        targets=targets(cfg), opd_names={o.opd: o.name for o in report.opds},
        category_labels={c.value: CATALOGUE[c].label_id for c in Category},
        call_type_labels=CALL_TYPE_LABELS, end_reason_labels=END_REASON_LABELS, computed_at=now)

"""The mayor's dashboard and the monthly report ("rapor OPD") over HTTP.

``GET /api/dashboard`` serves one :class:`gateway.kpi_board.Board` per
period, shared by every viewer like ``/api/kpis`` (a rolling period such
as "30 days" is keyed by its kind, not by the second it was asked for);
the PDF and the CSV are made from the same board.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from gateway import kpi_board, kpi_rollup
from gateway.api.deps import ReportUser, StateDep
from gateway.api.routers.incidents import ERR
from gateway.clock import utcnow
from gateway.kpi_period import Period, PeriodError, PeriodKind, resolve

router = APIRouter(prefix="/api", tags=["dashboard"])
log = logging.getLogger("gateway.dashboard")

KindQ = Annotated[PeriodKind, Query(description="today | 7d | 30d | month | custom")]
MonthQ = Annotated[str | None, Query(max_length=7,
                                      description="YYYY-MM for period=month (default: this month)")]
DayQ = Annotated[date | None, Query(description="First / last local day of period=custom (YYYY-MM-DD)")]


def _period(gw: StateDep, kind: PeriodKind, month: str | None, start: date | None,
            end: date | None) -> Period:
    try:
        return resolve(kind, gw.cfg.site.timezone, utcnow(), month=month, start=start, end=end)
    except PeriodError as exc:
        gw.metrics.bad_periods.inc()
        log.info("Periode ditolak / period refused: %s", exc)
        raise HTTPException(422, str(exc)) from None


def board(gw: StateDep, kind: PeriodKind, month: str | None, start: date | None,
          end: date | None) -> kpi_board.Board:
    _period(gw, kind, month, start, end)  # a bad period is refused before anything is queued

    def compute() -> kpi_board.Board:
        with gw.db.read_session() as s:
            out = kpi_board.compute(s, gw.cfg, _period(gw, kind, month, start, end))
        if gw.rollups_on_read:  # for the next one (dirty days read raw)
            kpi_rollup.refresh_db(gw.db, gw.cfg.site.timezone)
        return out

    return gw.boards.get((kind, month, start, end), compute)


@router.get("/dashboard", response_model=kpi_board.Board, responses=ERR,
            summary="The dashboard of a period: per-OPD times and change, charts, declines, calls",
            description="A snapshot shared by all viewers, at most `gateway.kpi_snapshot_s` old "
                        "(`computed_at`). For supervisors, admins and the mayor.")
def dashboard(gw: StateDep, _user: ReportUser, period: KindQ = PeriodKind.DAYS30, month: MonthQ = None,
              start: DayQ = None, end: DayQ = None) -> kpi_board.Board:
    return board(gw, period, month, start, end)


def _name(b: kpi_board.Board, ext: str) -> str:
    return f"rapor-opd-{b.period.month or b.period.since.date().isoformat()}.{ext}"


@router.get("/reports/rapor.pdf", response_class=Response, responses={**ERR, 200: {
    "content": {"application/pdf": {}}}}, summary="The monthly report (rapor OPD) as PDF")
def report_pdf(gw: StateDep, _user: ReportUser, period: KindQ = PeriodKind.MONTH, month: MonthQ = None,
               start: DayQ = None, end: DayQ = None) -> Response:
    from gateway.report_pdf import render

    b = board(gw, period, month, start, end)
    return Response(render(b, gw.cfg.site.name), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{_name(b, "pdf")}"'})


@router.get("/reports/rapor.csv", response_class=Response, responses={**ERR, 200: {
    "content": {"text/csv": {}}}}, summary="The report's numbers as CSV (one row per OPD)")
def report_csv(gw: StateDep, _user: ReportUser, period: KindQ = PeriodKind.MONTH, month: MonthQ = None,
               start: DayQ = None, end: DayQ = None) -> Response:
    from gateway.report_csv import render

    b = board(gw, period, month, start, end)
    return Response(render(b), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_name(b, "csv")}"'})

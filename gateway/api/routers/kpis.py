"""KPIs: who acted and how fast."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException

from gateway import kpi
from gateway.api.deps import ReportUser, SessionDep, StateDep
from gateway.api.routers.incidents import ERR
from gateway.kpi_declines import DeclineReport, declines

router = APIRouter(prefix="/api", tags=["kpis"])
YEARS = range(1970, 3000)  # as the dashboard's 2000-2999, with room for "since the epoch"


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """UTC bounds, or a 422 that says what is wrong (a year 1316 is a client's bug)."""
    from gateway.clock import as_utc

    since, until = as_utc(since), as_utc(until)
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.year not in YEARS:
            raise HTTPException(422, f"{name} di luar tahun 1970–2999 / {name} must be within 1970-2999")
    if since and until and since >= until:
        raise HTTPException(422, "since harus sebelum until / since must be before until")
    return since, until


@router.get("/kpis", response_model=kpi.KpiReport, responses=ERR,
            summary="Per-OPD times, SLA compliance, call answer times, volumes (default: last 30 days)",
            description="A snapshot shared by all viewers, at most `gateway.kpi_snapshot_s` old "
                        "(`computed_at`); computed in a read-only transaction.")
def kpis(gw: StateDep, _user: ReportUser, since: datetime | None = None,
         until: datetime | None = None) -> kpi.KpiReport:
    since, until = _period(since, until)

    def compute() -> kpi.KpiReport:
        from gateway import kpi_rollup

        with gw.db.read_session() as s:
            out = kpi.compute(s, gw.cfg, since, until)
        if gw.rollups_on_read:  # for the next one (dirty days read raw)
            kpi_rollup.refresh_db(gw.db, gw.cfg.site.timezone)
        return out

    return gw.kpis.get((since, until), compute)


@router.get("/kpis/declines", response_model=DeclineReport, responses=ERR,
            summary="Declines per OPD (by reason, judged wrong), decline to re-dispatch times",
            description="Computed in SQL in the request's read-only transaction.")
def decline_kpis(session: SessionDep, gw: StateDep, _user: ReportUser, since: datetime | None = None,
                 until: datetime | None = None) -> DeclineReport:
    return declines(session, gw.cfg, *_period(since, until))

"""The KPI rollups (gateway.kpi_rollup) answer exactly what the raw rows
answer, on SQLite and PostgreSQL: the whole dashboard board over months,
custom spans, rolling 30 days and today (periods cut mid-day, at local
midnight), before and after a refresh, after late acknowledgements,
declines and re-routes on old days; durations on band edges and ties; and
the KPI report against the independent plain-Python numbers of
test_kpi_sql. Migration 0005 builds the rollups of rows already there."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, inspect, select, text, update

from gateway import kpi, kpi_board, kpi_charts, kpi_rolled, kpi_rollup
from gateway.kpi_period import PeriodKind, resolve
from gateway.kpi_rollup import ACK, EDGES, RESOLVE
from gateway.kpi_rollup_read import RAW_KEY, open_for
from gateway.store.db import Database, alembic_config
from gateway.store.models import Assignment, Incident
from gateway.store.models_kpi import KpiDirty
from tests.gateway import report_seed
from tests.gateway.support import site_config, wait_for
from tests.gateway.test_kpi_sql import expected
from tests.gateway.test_kpi_sql import seed as seed_recent

TZ = ZoneInfo("Asia/Jakarta")


def _cfg(tmp_path, db_url):
    return site_config(tmp_path, SimpleNamespace(host="x", port=1), db_url=db_url)


def _board(db: Database, cfg, period, raw: bool) -> dict:
    with db.read_session() as s:
        s.info[RAW_KEY] = raw
        d = kpi_board.compute(s, cfg, period).model_dump()
    for k in ("computed_at",):
        d.pop(k)
        d["kpis"].pop(k)
    return d


def _edge_cases(db: Database) -> None:
    """Durations exactly on band edges and one below, ties, an even count;
    a part acknowledged after local midnight, one resolved a week later; cases
    received at local midnight exactly."""
    midnight = datetime(2026, 10, 10, tzinfo=TZ).astimezone(UTC)
    edge = EDGES[ACK][50]  # microseconds
    incs, asgs = [], []
    durs = [edge, edge, edge - 1, edge + 1, EDGES[ACK][52], EDGES[ACK][52], 7, 0]
    for i, us in enumerate(durs):
        pk = 90_000 + i
        at = midnight + timedelta(hours=3 + i)
        incs.append({"pk": pk, "id": f"E{pk:025d}", "category": "fire", "source": "operator", "priority": 1,
                     "status": "resolved", "received_at": at, "updated_at": at})
        asgs.append({"incident_pk": pk, "opd": "edge_opd", "dispatched_at": at,
                     "acknowledged_at": at + timedelta(microseconds=us),
                     "resolved_at": at + timedelta(microseconds=EDGES[RESOLVE][60] + (i % 2)),
                     "sla_ack_min": 5.0, "sla_resolve_min": 120.0, "status": "resolved"})
    # late: dispatched a second before local midnight, acknowledged after it, resolved a week later
    late = midnight - timedelta(seconds=1)
    incs.append({"pk": 90_100, "id": f"E{90_100:025d}", "category": "medical", "source": "operator",
                 "priority": 1, "status": "resolved", "received_at": late, "updated_at": late})
    asgs.append({"incident_pk": 90_100, "opd": "dinkes", "dispatched_at": late,
                 "acknowledged_at": late + timedelta(seconds=2), "resolved_at": late + timedelta(days=7),
                 "sla_ack_min": 5.0, "sla_resolve_min": 120.0, "status": "resolved"})
    for j in range(3):  # received at local midnight exactly
        pk = 90_200 + j
        incs.append({"pk": pk, "id": f"E{pk:025d}", "category": "flood", "source": "operator", "priority": 1,
                     "status": "received", "received_at": midnight + timedelta(days=j),
                     "updated_at": midnight})
    with db.session() as s:
        s.execute(insert(Incident), incs)
        s.execute(insert(Assignment), asgs)


def _periods(cfg) -> dict:
    tz = cfg.site.timezone
    mid_oct = datetime(2026, 10, 17, 9, 41, 7, tzinfo=UTC)
    return {
        "October": resolve(PeriodKind.MONTH, tz, mid_oct, month="2026-10"),
        "custom": resolve(PeriodKind.CUSTOM, tz, mid_oct, start=date(2026, 9, 14), end=date(2026, 10, 11)),
        "one day": resolve(PeriodKind.CUSTOM, tz, mid_oct, start=date(2026, 10, 10), end=date(2026, 10, 10)),
        "30 days": resolve(PeriodKind.DAYS30, tz, mid_oct),
        "today": resolve(PeriodKind.TODAY, tz, mid_oct),
    }


@pytest.fixture
def seeded(db_url, tmp_path):
    cfg = _cfg(tmp_path, db_url)
    db = Database(db_url)
    db.migrate()
    report_seed.seed(db)
    _edge_cases(db)
    yield cfg, db
    db.dispose()


@pytest.mark.timeout(360)  # ~20 whole boards, half of them raw, on a loaded 2-core machine
def test_board_from_rollups_equals_the_board_from_raw_rows(seeded):
    cfg, db = seeded
    tz = cfg.site.timezone
    periods = _periods(cfg)
    raw = {name: _board(db, cfg, p, raw=True) for name, p in periods.items()}
    assert raw["October"]["kpis"]["incidents"] > 500  # the months are really there
    assert any(o["opd"] == "edge_opd" for o in raw["October"]["kpis"]["opds"])
    # every day dirty (seeded after the migration): read raw until refreshed
    short = ("October", "30 days", "today")
    for name in short:
        assert _board(db, cfg, periods[name], raw=False) == raw[name], name
    with db.read_session() as s:
        assert open_for(s, tz) is None  # (more than MAX_DIRTY days dirty)
    with db.session() as s:
        assert kpi_rollup.refresh(s, tz) > 60
        assert s.scalar(select(KpiDirty.id).limit(1)) is None
    with db.read_session() as s:
        ro = open_for(s, tz)
        assert ro is not None and not ro.dirty
        plan = ro.plan(periods["October"].since, periods["October"].until)
        assert len(plan.stored) == 31 and not plan.raw  # a month: whole stored days only
        assert kpi_rolled.opds(ro, cfg, periods["October"].since, periods["October"].until,
                               datetime.now(UTC)) is not None
        assert kpi_rollup.verify(s, tz) == []
    for name, p in periods.items():
        assert _board(db, cfg, p, raw=False) == raw[name], name

    # later writes on old days: a late acknowledgement, a decline re-routed, a re-categorised case
    with db.session() as s:
        open_pk = s.scalar(select(Assignment.pk).where(Assignment.acknowledged_at.is_(None),
                                                       Assignment.status == "dispatched").limit(1))
        d = s.scalar(select(Assignment.dispatched_at).where(Assignment.pk == open_pk))
        s.execute(update(Assignment).where(Assignment.pk == open_pk).values(
            acknowledged_at=d + timedelta(days=3, microseconds=5), status="acknowledged"))
        other = s.scalar(select(Assignment.pk).where(Assignment.status == "resolved",
                                                     Assignment.opd == "bpbd").limit(1))
        s.execute(update(Assignment).where(Assignment.pk == other).values(
            status="declined", declined_at=d + timedelta(hours=30), decline_reason="not_ours",
            acknowledged_at=None, resolved_at=None, rerouted_at=d + timedelta(hours=31)))
        s.execute(update(Incident).where(Incident.pk == 5).values(category="crime", status="closed"))
        s.execute(delete(Assignment).where(Assignment.opd == "edge_opd", Assignment.incident_pk == 90_007))
    raw = {name: _board(db, cfg, periods[name], raw=True) for name in short}
    with db.read_session() as s:
        assert open_for(s, tz).dirty  # type: ignore[union-attr]
    for name in short:
        assert _board(db, cfg, periods[name], raw=False) == raw[name], name
    with db.session() as s:
        assert 0 < kpi_rollup.refresh(s, tz) < 10
    for name in short:
        assert _board(db, cfg, periods[name], raw=False) == raw[name], name
    with db.read_session() as s:
        assert kpi_rollup.verify(s, tz) == []
    # seven centuries asked for (a client's odd `since`): the plan is cut to the days that
    # hold rows, and the answer is still the raw one
    since, until = datetime(1316, 9, 12, 6, 50, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
    with db.read_session() as s:
        ro = open_for(s, tz)
        assert ro is not None
        first, last = kpi_rollup.data_days(s, ZoneInfo(tz))  # type: ignore[misc]
        plan = ro.plan(since, until)
        assert 60 < len(plan.stored) + len(plan.raw) <= last - first + 1
        rolled = kpi.compute(s, cfg, since, until).model_dump(exclude={"computed_at"})
    with db.read_session() as s:
        s.info[RAW_KEY] = True
        assert kpi.compute(s, cfg, since, until).model_dump(exclude={"computed_at"}) == rolled
    assert rolled["incidents"] > 500


def test_report_from_rollups_equals_plain_python(db_url, tmp_path):
    """Recent rows (open parts not yet overdue, SLA limits of 0 and none):
    the KPI report from the refreshed rollups equals test_kpi_sql's numbers."""
    cfg = _cfg(tmp_path, db_url)
    db = Database(db_url)
    try:
        db.migrate()
        now = datetime.now(UTC)
        incs, asgs, calls = seed_recent(db, now, 2500, random.Random(7))
        with db.session() as s:
            kpi_rollup.refresh(s, cfg.site.timezone)
        until = now + timedelta(minutes=1)
        since = until - timedelta(days=30)
        with db.read_session() as s:
            assert open_for(s, cfg.site.timezone) is not None
            report = kpi.compute(s, cfg, since, until)
            charts = kpi_charts.compute(s, since, until, cfg.site.timezone, [o.opd for o in report.opds])
            s.info[RAW_KEY] = True
            raw_charts = kpi_charts.compute(s, since, until, cfg.site.timezone, [o.opd for o in report.opds])
        got = report.model_dump(exclude={"computed_at"})
        want = expected(cfg, incs, asgs, calls, since, until, report.computed_at)
        assert got.pop("opds") == want.pop("opds")
        assert got == want
        assert charts == raw_charts
    finally:
        db.dispose()


def test_migration_builds_rollups_of_rows_already_there(db_url, tmp_path):
    cfg = _cfg(tmp_path, db_url)
    db = Database(db_url)
    try:
        command.upgrade(alembic_config(db.engine), "0005_province")
        report_seed.seed(db, n=400)
        db.migrate()
        tz = cfg.site.timezone
        with db.read_session() as s:
            assert kpi_rollup.built_for(s) == kpi_rollup.signature(tz)
            assert s.scalar(select(KpiDirty.id).limit(1)) is None  # all built, nothing dirty
            assert kpi_rollup.counts(s)["asg"] > 50
            assert kpi_rollup.verify(s, tz) == []
        p = _periods(cfg)["October"]
        assert _board(db, cfg, p, raw=False) == _board(db, cfg, p, raw=True)
        command.downgrade(alembic_config(db.engine), "0005_province")
        assert "kpi_day_assignments" not in inspect(db.engine).get_table_names()
        with db.engine.begin() as c:  # no trigger left behind to write into a dropped table
            c.execute(text("UPDATE incidents SET status = 'closed' WHERE pk = 1"))
    finally:
        db.dispose()


def test_a_rebuild_for_another_zone_and_raw_reads_until_then(seeded):
    cfg, db = seeded
    p = _periods(cfg)["October"]
    want = _board(db, cfg, p, raw=True)
    with db.session() as s:
        kpi_rollup.rebuild(s, "Asia/Makassar")
    with db.read_session() as s:
        assert open_for(s, cfg.site.timezone) is None  # built for another zone: raw
    with db.session() as s:
        assert kpi_rollup.refresh(s, cfg.site.timezone) == -1
    assert _board(db, cfg, p, raw=False) == want
    with db.session() as s:
        kpi_rollup.rebuild(s, cfg.site.timezone)
    with db.read_session() as s:
        assert open_for(s, cfg.site.timezone) is not None
    assert _board(db, cfg, p, raw=False) == want


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollup") / "g.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    cfg = _cfg(tmp_path_factory.mktemp("cfg"), f"sqlite:///{path}")
    yield cfg, db
    db.dispose()


edge_us = st.sampled_from([EDGES[ACK][i] + d for i in (30, 40, 41, 55) for d in (-1, 0, 1)])
durations = st.lists(st.one_of(edge_us, st.integers(0, 10**11)), min_size=1, max_size=40)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(durations, st.integers(0, 2))
def test_rollup_medians_equal_raw_medians(small_db, durs, spread_days):
    """Any durations (ties, band edges, even and odd counts), spread over a
    few local days: the median and p90 from the bands equal the raw ones."""
    cfg, db = small_db
    base = datetime(2026, 6, 1, tzinfo=TZ).astimezone(UTC)
    hours = 24 * (spread_days + 1)
    with db.session() as s:
        s.execute(delete(Assignment))
        s.execute(delete(Incident))
        s.execute(insert(Incident), [{"pk": i + 1, "id": f"H{i:025d}", "category": "fire",
                                      "source": "operator", "priority": 1, "status": "resolved",
                                      "received_at": base, "updated_at": base} for i in range(len(durs))])
        at = [base + timedelta(hours=7 * i % hours) for i in range(len(durs))]
        s.execute(insert(Assignment), [
            {"incident_pk": i + 1, "opd": "damkar", "dispatched_at": at[i],
             "acknowledged_at": at[i] + timedelta(microseconds=us), "sla_ack_min": 5.0,
             "status": "acknowledged"} for i, us in enumerate(durs)])
        kpi_rollup.refresh(s, cfg.site.timezone)
    since, until = base, base + timedelta(days=3)
    with db.read_session() as s:
        assert open_for(s, cfg.site.timezone) is not None
        fast = kpi._opds(s, cfg, since, until, until)
        s.info[RAW_KEY] = True
        raw = kpi._opds(s, cfg, since, until, until)
    assert fast == raw
    vals = sorted(durs)
    assert next(o for o in fast if o.opd == "damkar").ack_median_s == kpi.median([v / 1e6 for v in vals])


def test_the_rollups_role_refreshes_changed_days_without_a_dashboard(db_url, tmp_path, start_gateway):
    """Nobody opens the dashboard: the instance holding the ``rollups`` role
    still rebuilds the days that changed, and they match the raw rows."""
    from gateway.intake import Intake, Message
    from protocol.codec import encode
    from protocol.topics import DeviceTopic, device_topic
    from tests.gateway.support import incident, register

    cfg = _cfg(tmp_path, db_url)
    cfg.gateway.rollup_refresh_s = 3600.0  # first: no pass while the cases go in
    gw = start_gateway(cfg, mqtt=False)
    register(gw.db, "box-01")
    Intake(gw.db, gw.cfg, gw.metrics).process(
        [Message(device_topic("box-01", DeviceTopic.INCIDENT), encode(incident("box-01", i, c)))
         for i, c in enumerate(["fire", "medical", "flood"])])

    def dirty() -> int:
        with gw.db.read_session() as s:
            return len(s.scalars(select(KpiDirty.id)).all())

    assert dirty() > 0 and gw.rollups.passes == 0
    gw.rollups.stop()
    gw.rollups.every_s = 0.2
    gw.rollups.start()
    wait_for(lambda: dirty() == 0, timeout=20)
    assert gw.rollups.passes >= 1
    with gw.db.read_session() as s:
        assert kpi_rollup.verify(s, cfg.site.timezone) == []
        assert open_for(s, cfg.site.timezone) is not None


def test_the_rollups_role_catches_up_a_backlog_at_once(db_url, tmp_path, start_gateway):
    """A backlog of dirty days at start (a bulk load, a long stop, a web
    process whose dashboards do not refresh) is caught up in short passes,
    not one pass per ``rollup_refresh_s``."""
    from gateway.rollup_watch import USUAL_DIRTY

    cfg = _cfg(tmp_path, db_url)
    cfg.gateway.rollup_refresh_s = 3600.0
    db = Database(cfg.gateway.database_url)
    db.migrate()
    with db.session() as s:
        for day in range(20_000, 20_012):  # twelve UTC days of 2024 marked changed
            s.add(KpiDirty(day=day))
    db.dispose()
    gw = start_gateway(cfg, mqtt=False)

    def dirty() -> int:
        with gw.db.read_session() as s:
            return kpi_rollup.dirty_days(s)

    wait_for(lambda: dirty() <= USUAL_DIRTY and not gw.rollups.behind, timeout=30)
    assert 2 <= gw.rollups.passes < 12  # several short passes, a few days each
    with gw.db.read_session() as s:
        assert kpi_rollup.verify(s, cfg.site.timezone) == []

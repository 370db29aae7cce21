"""The month sums of the KPI rollups (gateway.kpi_rollup_months): a period
of whole months reads month rows and the stored month medians of the
trend, and still answers exactly what the raw rows answer, on SQLite and
PostgreSQL; a change in a month is read raw until its refresh rewrites the
month; a database migrated past 0007 gets its months summed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select, text, update

from gateway import kpi_charts, kpi_rollup, kpi_rollup_months
from gateway.kpi_period import PeriodKind, resolve
from gateway.kpi_rollup import ACK
from gateway.kpi_rollup_read import Rollups, open_for
from gateway.store.models import Assignment
from gateway.store.models_kpi import KpiMonthHistogram, KpiMonthMedian
from tests.gateway.test_kpi_rollup import _board, seeded  # noqa: F401 (a fixture)

SEPTEMBER = date(2026, 9, 1).toordinal()


def _asks(monkeypatch) -> list:
    seen: list = []
    orig = Rollups.at_ranks_many

    def spy(self, asks):
        seen.extend(asks)
        return orig(self, asks)

    monkeypatch.setattr(Rollups, "at_ranks_many", spy)
    return seen


def test_whole_months_read_month_rows_and_stored_medians(seeded, monkeypatch):  # noqa: F811
    cfg, db = seeded
    tz = cfg.site.timezone
    # June to October: monthly buckets; September and October hold the cases
    p = resolve(PeriodKind.CUSTOM, tz, datetime(2026, 11, 20, tzinfo=UTC),
                start=date(2026, 6, 1), end=date(2026, 10, 31))
    raw = _board(db, cfg, p, raw=True)
    assert raw["charts"]["buckets"]["step"] == "month"
    with db.session() as s:
        assert kpi_rollup.refresh(s, tz) > 60
    with db.read_session() as s:
        assert kpi_rollup_months.built(s)
        assert kpi_rollup_months.verify(s) == []
        assert s.scalar(select(KpiMonthMedian.n).where(KpiMonthMedian.day == SEPTEMBER).limit(1))
        ro = open_for(s, tz)
        assert ro is not None
        plan = ro.plan(p.since, p.until, kpi_charts.buckets(p.since, p.until, ro.tz).starts)
        kept = ro.month_medians(plan, ACK)
        assert {3, 4} <= {g for _o, g in kept}  # September and October (and August's last hours)
    asks = _asks(monkeypatch)
    assert _board(db, cfg, p, raw=False) == raw
    sept = kpi_rollup.midnight(SEPTEMBER, ro.tz)
    # the trend's whole months came from the stored medians, not from band reads
    assert not [a for a in asks if a.clock == ACK and a.since == sept and a.opd != ""
                and a.until == kpi_rollup.midnight(date(2026, 10, 1).toordinal(), ro.tz)]

    # a stored median that lies shows on the board: the path is really read
    with db.session() as s:
        opd = s.scalar(select(KpiMonthMedian.opd).where(KpiMonthMedian.day == SEPTEMBER,
                                                        KpiMonthMedian.clock == ACK).limit(1))
        s.execute(update(KpiMonthMedian).where(KpiMonthMedian.day == SEPTEMBER, KpiMonthMedian.opd == opd)
                  .values(lo=1, hi=1))
    assert _board(db, cfg, p, raw=False)["charts"] != raw["charts"]
    with db.session() as s:
        kpi_rollup_months.rebuild(s, ro.tz)
    assert _board(db, cfg, p, raw=False) == raw

    # a late acknowledgement in September: raw until refreshed, then the month is rewritten
    with db.session() as s:
        a = Assignment
        pk, d, late_opd = s.execute(select(a.pk, a.dispatched_at, a.opd).where(
            a.acknowledged_at.is_(None), a.status == "dispatched", a.dispatched_at >= sept,
            a.dispatched_at < sept + timedelta(days=20)).limit(1)).one()
        before = s.scalar(select(KpiMonthMedian.n).where(KpiMonthMedian.day == SEPTEMBER,
                                                         KpiMonthMedian.opd == late_opd))
        s.execute(update(Assignment).where(Assignment.pk == pk).values(
            acknowledged_at=d + timedelta(seconds=1), status="acknowledged"))
    raw = _board(db, cfg, p, raw=True)
    assert _board(db, cfg, p, raw=False) == raw
    with db.session() as s:
        assert kpi_rollup.refresh(s, tz) >= 1
    with db.read_session() as s:
        assert kpi_rollup_months.verify(s) == []
        after = s.scalar(select(KpiMonthMedian.n).where(KpiMonthMedian.day == SEPTEMBER,
                                                        KpiMonthMedian.opd == late_opd))
    assert after == (before or 0) + 1  # the month counted the new acknowledgement
    assert _board(db, cfg, p, raw=False) == raw


def test_a_database_migrated_past_the_months_gets_them_summed(seeded):  # noqa: F811
    cfg, db = seeded
    tz = cfg.site.timezone
    with db.session() as s:
        kpi_rollup.refresh(s, tz)
        s.execute(delete(KpiMonthHistogram))
        s.execute(delete(KpiMonthMedian))
        s.execute(text("DELETE FROM kpi_meta WHERE key = 'months'"))
    with db.read_session() as s:
        assert not kpi_rollup_months.built(s)
        assert kpi_rollup_months.verify(s)  # the histograms' months are missing
        assert open_for(s, tz).months is False  # type: ignore[union-attr]  (day rows until summed)
    p = resolve(PeriodKind.MONTH, tz, datetime(2026, 11, 20, tzinfo=UTC), month="2026-09")
    assert _board(db, cfg, p, raw=False) == _board(db, cfg, p, raw=True)
    db.migrate()  # at head already: only the step after the migrations runs
    with db.read_session() as s:
        assert kpi_rollup_months.built(s)
        assert kpi_rollup_months.verify(s) == []
        assert s.scalar(select(KpiMonthMedian.n).where(KpiMonthMedian.day == SEPTEMBER).limit(1))
    assert _board(db, cfg, p, raw=False) == _board(db, cfg, p, raw=True)


def test_rollups_verify_names_a_month_that_differs_from_its_days(tmp_path):
    """`siaga gateway rollups --verify` checks the months too, and says which."""
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from gateway.cli import app
    from gateway.store.db import Database
    from tests.gateway import report_seed
    from tests.gateway.support import site_yaml

    url = f"sqlite:///{tmp_path / 'g.db'}"
    site = tmp_path / "site.yaml"
    site.write_text(site_yaml(tmp_path, SimpleNamespace(host="127.0.0.1", port=1), db_url=url))
    db = Database(url)
    db.migrate()
    report_seed.seed(db, n=300)
    db.dispose()
    runner = CliRunner()
    ok = runner.invoke(app, ["--config", str(site), "rollups", "--verify"])
    assert ok.exit_code == 0, ok.output
    assert "every month its days" in ok.output
    db = Database(url)
    with db.session() as s:
        h = KpiMonthHistogram
        s.execute(update(h).where(h.day == SEPTEMBER).values(n=h.n + 1))
    db.dispose()
    bad = runner.invoke(app, ["--config", str(site), "rollups", "--verify"])
    assert bad.exit_code == 1
    assert "2026-09" in bad.output and "--rebuild" in bad.output, bad.output
    fixed = runner.invoke(app, ["--config", str(site), "rollups", "--rebuild", "--verify"])
    assert fixed.exit_code == 0, fixed.output

"""KPI arithmetic on a real SQLite file: percentiles, SLA compliance with
overdue open cases, hours in the site's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from gateway import kpi
from gateway.store.db import Database
from gateway.store.models import Assignment, Incident
from tests.gateway.support import site_config


def test_percentile_and_median():
    assert kpi.median([]) is None and kpi.percentile([], 90) is None
    assert kpi.median([3, 1, 2]) == 2 and kpi.median([4, 1, 2, 3]) == 2.5
    values = list(range(1, 11))
    assert kpi.percentile(values, 90) == 9 and kpi.percentile(values, 100) == 10
    assert kpi.percentile(values, 50) == 5 and kpi.percentile([7.0], 99) == 7.0


def test_sla_compliance_counts_overdue_open_cases(tmp_path, db_url):
    cfg = site_config(tmp_path, SimpleNamespace(host="x", port=1), db_url=db_url)
    db = Database(cfg.gateway.database_url)
    db.migrate()
    now = datetime.now(UTC)
    t0 = now - timedelta(hours=2)
    day = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with db.session() as s:
        def case(n: int, at: datetime, ack_s: float | None, hour_utc: int) -> None:
            rec = day.replace(hour=hour_utc)
            inc = Incident(id=f"01ARZ3NDEKTSV4RRFFQ69G5F{n:02d}", case_no=f"MDN-2026-{n:06d}",
                           category="fire", source="field_button", priority=1, status="dispatched",
                           received_at=rec, updated_at=rec)
            s.add(inc)
            s.flush()
            s.add(Assignment(incident_pk=inc.pk, opd="damkar", dispatched_at=at, sla_ack_min=5,
                             acknowledged_at=at + timedelta(seconds=ack_s) if ack_s is not None else None))

        case(1, t0, 60, 1)     # in time
        case(2, t0, 120, 1)    # in time
        case(3, t0, 600, 2)    # late (10 min > 5)
        case(4, t0, None, 2)   # never acknowledged, overdue
        case(5, now, None, 3)  # just dispatched: not yet decided
    with db.session() as s:
        r = kpi.compute(s, cfg, since=day - timedelta(days=1), until=now + timedelta(minutes=1))
    damkar = next(o for o in r.opds if o.opd == "damkar")
    assert damkar.count == 5 and damkar.acknowledged == 3 and damkar.open == 5
    assert damkar.ack_median_s == 120 and damkar.ack_p90_s == 600
    assert damkar.ack_sla_compliance == 2 / 4  # 2 in time of 3 acked + 1 overdue
    assert damkar.resolve_median_s is None
    # Asia/Jakarta is UTC+7
    assert r.by_hour == {8: 2, 9: 2, 10: 1}
    dinkes = next(o for o in r.opds if o.opd == "dinkes")
    assert dinkes.count == 0 and dinkes.ack_sla_compliance is None
    db.dispose()

"""The KPIs the database computes equal KPIs computed here, independently,
in plain Python over the seeded rows: a month of cases for several OPDs
(and one no longer configured), with SLA limits, escalations, open and
overdue cases, ties, odd microseconds, declined and re-routed parts (left
out of an OPD's speed, counted in the declines report), and calls
answered, missed and abandoned. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from gateway import kpi, kpi_declines
from gateway.store.db import Database
from gateway.store.models import Assignment, Call, Incident
from tests.gateway.support import site_config

OPDS = ("damkar", "dinkes", "bpbd", "polres", "satpol")  # satpol: not in the site's config
CATS = ("fire", "medical", "flood", "crime", "other", "prank", "test")
STATUSES = ("received", "triaged", "dispatched", "acknowledged", "on_scene", "resolved", "closed",
            "rejected")
SLA = (None, 0.0, 2.5, 5.0, 15.0, 60.0)
END = ("remote_hangup", "local_hangup", "missed", "abandoned", "no_answer")
REASONS = ("not_ours", "no_capacity", "duplicate", "other")


def part_fate(a: dict, d: datetime, rnd: random.Random) -> None:
    """Status of a seeded part; some declined (some of those re-dispatched
    later, some judged wrong) or re-routed away (withdrawn)."""
    done = "resolved" if a["resolved_at"] else "acknowledged" if a["acknowledged_at"] else "dispatched"
    a.update(status=done,
             declined_at=None, decline_reason=None, decline_note=None, rerouted_at=None, decline_wrong=False)
    roll = rnd.random()
    if roll < 0.10:
        back = rnd.choice((None, rnd.uniform(5, 3600), 60.0))
        at = d + timedelta(seconds=rnd.uniform(1, 600), microseconds=rnd.randrange(1_000_000))
        a.update(status="declined", declined_at=at, decline_reason=rnd.choice(REASONS),
                 decline_note=rnd.choice((None, "armada habis")), decline_wrong=rnd.random() < 0.2,
                 rerouted_at=at + timedelta(seconds=back) if back is not None else None)
    elif roll < 0.15:
        a["status"] = "withdrawn"


def seed(db: Database, now: datetime, n: int, rnd: random.Random) -> tuple[list, list, list]:
    incs, asgs, calls = [], [], []
    fate = random.Random(13)  # its own stream: the rest of the month stays as it was
    for pk in range(1, n + 1):
        # a few outside the month on both sides, to test the period's edges
        at = now - timedelta(days=31) + timedelta(seconds=rnd.randrange(0, 31 * 86400 + 3600),
                                                  microseconds=rnd.randrange(1_000_000))
        incs.append({"pk": pk, "id": f"{pk:026d}", "case_no": f"MDN-2026-{pk:06d}",
                     "category": rnd.choice(CATS), "source": "field_button", "priority": 2,
                     "status": rnd.choice(STATUSES), "received_at": at, "updated_at": at})
        for opd in rnd.sample(OPDS, rnd.choice((0, 1, 1, 1, 2))):
            d = at + timedelta(seconds=rnd.randrange(0, 120), microseconds=rnd.randrange(1_000_000))
            ack_s = rnd.choice((None, 30, 30, rnd.uniform(1, 1200), 150.0000005, 300))
            ack = d + timedelta(seconds=ack_s) if ack_s is not None else None
            res = (ack + timedelta(seconds=rnd.uniform(60, 7200))
                   if ack is not None and rnd.random() < 0.7 else None)
            asgs.append({"incident_pk": pk, "opd": opd, "dispatched_at": d, "acknowledged_at": ack,
                         "resolved_at": res, "sla_ack_min": rnd.choice(SLA),
                         "sla_resolve_min": rnd.choice(SLA),
                         "ack_escalated_at": d if rnd.random() < 0.1 else None,
                         "resolve_escalated_at": d if rnd.random() < 0.05 else None})
            part_fate(asgs[-1], d, fate)
    for i in range(n // 2):
        at = now - timedelta(days=31) + timedelta(seconds=rnd.randrange(0, 31 * 86400 + 3600))
        end = rnd.choice(END)
        answer = None if end in ("missed", "abandoned", "no_answer") else rnd.choice(
            (3.0, 12.5, 15.0, 20.0, rnd.uniform(1, 40)))
        calls.append({"id": f"C{i:025d}", "device_id": "panel-01", "seq": i,
                      "direction": rnd.choice(("incoming", "incoming", "incoming", "outgoing")),
                      "answer_s": answer, "duration_s": 30.0, "end_reason": end, "received_at": at})
    with db.session() as s:
        s.execute(insert(Incident), incs)
        s.execute(insert(Assignment), asgs)
        s.execute(insert(Call), calls)
    return incs, asgs, calls


def nearest_rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(1, math.ceil(len(s) * p / 100)) - 1]


def middle(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    half = len(s) // 2
    return s[half] if len(s) % 2 else (s[half - 1] + s[half]) / 2


def expected(cfg, incs, asgs, calls, since: datetime, until: datetime, now: datetime) -> dict:
    """The KPIs as docs/gateway.md defines them, straight from the rows."""
    tz = ZoneInfo(cfg.site.timezone)
    inside = [i for i in incs if since <= i["received_at"] < until]
    cats: dict[str, int] = {}
    hours: dict[int, int] = {}
    for i in inside:
        cats[i["category"]] = cats.get(i["category"], 0) + 1
        h = i["received_at"].astimezone(tz).hour
        hours[h] = hours.get(h, 0) + 1
    opd_ids = [o.id for o in cfg.opds]
    # a part the OPD declined or that was re-routed away is not its speed
    mine = [a for a in asgs if since <= a["dispatched_at"] < until
            and a["status"] not in ("declined", "withdrawn")]
    for a in mine:
        if a["opd"] not in opd_ids:
            opd_ids.append(a["opd"])

    def clock(rows, done, limit):
        secs = [(a[done] - a["dispatched_at"]).total_seconds() for a in rows if a[done] is not None]
        decided = ok = late = 0
        for a in rows:
            lim = a[limit]
            if not lim:
                continue
            if a[done] is not None:
                decided += 1
                ok += (a[done] - a["dispatched_at"]).total_seconds() <= lim * 60
            elif now > a["dispatched_at"] + timedelta(minutes=lim):
                late += 1
        share = ok / (decided + late) if decided + late else None
        return secs, share

    opds = []
    for o in opd_ids:
        rows = [a for a in mine if a["opd"] == o]
        acks, ack_share = clock(rows, "acknowledged_at", "sla_ack_min")
        ress, res_share = clock(rows, "resolved_at", "sla_resolve_min")
        conf = cfg.opd(o)
        opds.append({"opd": o, "name": conf.name if conf else o, "count": len(rows),
                     "acknowledged": len(acks), "resolved": len(ress),
                     "open": len([a for a in rows if a["resolved_at"] is None]),
                     "ack_median_s": middle(acks), "ack_p90_s": nearest_rank(acks, 90),
                     "resolve_median_s": middle(ress), "resolve_p90_s": nearest_rank(ress, 90),
                     "ack_sla_compliance": ack_share, "resolve_sla_compliance": res_share,
                     "escalations": len([a for a in rows
                                         if a["ack_escalated_at"] or a["resolve_escalated_at"]])})
    inc_calls = [c for c in calls if since <= c["received_at"] < until and c["direction"] == "incoming"]
    ans = [c["answer_s"] for c in inc_calls if c["answer_s"] is not None]
    w15 = len([a for a in ans if a <= 15]) / len(ans) if ans else None
    w20 = len([a for a in ans if a <= 20]) / len(ans) if ans else None
    junk = cats.get("prank", 0) + cats.get("test", 0)
    return {
        "since": since, "until": until, "incidents": len(inside), "prank": cats.get("prank", 0),
        "test": cats.get("test", 0), "prank_test_share": junk / len(inside) if inside else None,
        "open_backlog": len([i for i in inside if i["status"] in
                             ("received", "triaged", "dispatched", "acknowledged", "on_scene")]),
        "by_category": dict(sorted(cats.items())), "by_hour": dict(sorted(hours.items())), "opds": opds,
        "calls": {"calls": len(inc_calls), "answered": len(ans),
                  "missed": len([c for c in inc_calls if c["end_reason"] in ("missed", "abandoned",
                                                                             "no_answer")]),
                  "answer_median_s": middle(ans), "answer_p90_s": nearest_rank(ans, 90),
                  "within_15s": w15, "within_20s": w20,
                  "meets_15s_target": None if w15 is None else w15 >= 0.9,
                  "meets_20s_target": None if w20 is None else w20 >= 0.95},
    }


@pytest.fixture
def month(db_url, tmp_path):
    cfg = site_config(tmp_path, SimpleNamespace(host="x", port=1), db_url=db_url)
    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)
    rows = seed(db, now, 4000, random.Random(22))
    yield cfg, db, now, rows
    db.dispose()


def test_kpis_from_sql_equal_kpis_from_the_raw_rows(month):
    cfg, db, now, (incs, asgs, calls) = month
    until = now + timedelta(minutes=1)
    since = until - timedelta(days=30)
    with db.read_session() as s:
        report = kpi.compute(s, cfg, since, until)
    got = report.model_dump(exclude={"computed_at"})
    want = expected(cfg, incs, asgs, calls, since, until, report.computed_at)
    assert got["incidents"] > 3000 and got["calls"]["answered"] > 500  # the month is really there
    assert got["calls"]["missed"] > 100 and len(got["opds"]) == 5 and got["opds"][-1]["opd"] == "satpol"
    assert 0 < got["opds"][0]["ack_sla_compliance"] < 1
    assert got.pop("opds") == want.pop("opds")
    assert got == want


def test_default_period_and_a_short_one(month):
    """The default is the last 30 days; a one-day period with few rows (even
    counts, single values, empty OPDs) matches as well."""
    cfg, db, now, (incs, asgs, calls) = month
    with db.read_session() as s:
        report = kpi.compute(s, cfg)
        assert report.until - report.since == timedelta(days=30)
        until = now - timedelta(days=3)
        day = kpi.compute(s, cfg, until - timedelta(days=1), until)
    got = day.model_dump(exclude={"computed_at"})
    want = expected(cfg, incs, asgs, calls, until - timedelta(days=1), until, day.computed_at)
    assert 50 < got["incidents"] < 300
    assert got == want


def expected_declines(cfg, incs, asgs, since: datetime, until: datetime) -> dict:
    """The declines report as docs/gateway.md defines it, from the rows."""
    by_pk = {i["pk"]: i for i in incs}
    rows = sorted((a for a in asgs if a["declined_at"] is not None and since <= a["declined_at"] < until),
                  key=lambda a: a["declined_at"], reverse=True)
    opds = []
    for o in cfg.opds:
        mine = [a for a in rows if a["opd"] == o.id]
        waits = [(a["rerouted_at"] - a["declined_at"]).total_seconds() for a in mine if a["rerouted_at"]]
        reasons: dict[str, int] = {}
        for a in mine:
            reasons[a["decline_reason"]] = reasons.get(a["decline_reason"], 0) + 1
        opds.append({"opd": o.id, "name": o.name, "declines": len(mine), "by_reason": reasons,
                     "wrong": len([a for a in mine if a["decline_wrong"]]),
                     "reroute_median_s": middle(waits), "reroute_p90_s": nearest_rank(waits, 90),
                     "waiting": len(mine) - len(waits)})
    recent = [{"case_no": by_pk[a["incident_pk"]]["case_no"], "incident_id": by_pk[a["incident_pk"]]["id"],
               "opd": a["opd"], "reason": a["decline_reason"], "note": a["decline_note"],
               "declined_at": a["declined_at"], "wrong": a["decline_wrong"],
               "rerouted_after_s": (a["rerouted_at"] - a["declined_at"]).total_seconds()
               if a["rerouted_at"] else None} for a in rows[:200]]
    return {"since": since, "until": until, "opds": opds, "recent": recent}


def test_declines_from_sql_equal_declines_from_the_raw_rows(month):
    cfg, db, now, (incs, asgs, _calls) = month
    for until, days in ((now + timedelta(minutes=1), 30), (now - timedelta(days=3), 1)):
        since = until - timedelta(days=days)
        with db.read_session() as s:
            got = kpi_declines.declines(s, cfg, since, until).model_dump()
        want = expected_declines(cfg, incs, asgs, since, until)
        if days == 30:  # the month really has declines, re-dispatched or waiting, some judged wrong
            assert len(got["recent"]) == 200 and all(o["declines"] > 20 for o in got["opds"])
            assert all(o["waiting"] and o["wrong"] and o["reroute_p90_s"] for o in got["opds"])
        assert got.pop("opds") == want.pop("opds")
        assert got == want

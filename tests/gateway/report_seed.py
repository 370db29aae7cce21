"""A known month for the report card's tests: October 2026 in Kota Uji
(Asia/Jakarta), with September before it, seeded straight into the
database, and the dashboard's numbers computed here, independently, in
plain Python over the same rows (the KPI table by test_kpi_sql's
``expected``; the chart series, declines, re-routes, the previous period
and the changes below)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from gateway.store.db import Database
from gateway.store.models import Assignment, Call, Incident
from tests.gateway.test_kpi_sql import expected, expected_declines, middle

TZ = ZoneInfo("Asia/Jakarta")
MONTH = "2026-10"
SINCE = datetime(2026, 10, 1, tzinfo=TZ).astimezone(UTC)
UNTIL = datetime(2026, 11, 1, tzinfo=TZ).astimezone(UTC)
PREV_SINCE = datetime(2026, 9, 1, tzinfo=TZ).astimezone(UTC)
OPDS = ("damkar", "dinkes", "bpbd", "polres")
# each OPD has its own pace, so the ranking is not a tie
PACE = {"damkar": 60, "dinkes": 150, "bpbd": 420, "polres": 900}
CATS = ("fire", "medical", "flood", "crime", "other", "prank", "test")
CALL_TYPES = (None, "emergency", "emergency", "information", "prank", "ghost", "misdial")
REASONS = ("not_ours", "no_capacity", "duplicate", "other")


def seed(db: Database, n: int = 1200, rnd: random.Random | None = None) -> tuple[list, list, list]:
    """``n`` cases from 1 September to a few hours past October (local), about
    70 % given to one or two OPDs; 10 % of the parts declined (most re-dispatched),
    5 % re-routed away; n calls, some missed, some abandoned."""
    rnd = rnd or random.Random(15)
    incs, asgs, calls = [], [], []
    span = (UNTIL - PREV_SINCE).total_seconds() + 6 * 3600
    for pk in range(1, n + 1):
        at = PREV_SINCE - timedelta(hours=3) + timedelta(seconds=rnd.uniform(0, span),
                                                         microseconds=rnd.randrange(1_000_000))
        cat = rnd.choice(CATS)
        incs.append({"pk": pk, "id": f"{pk:026d}", "case_no": f"MDN-2026-{pk:06d}", "category": cat,
                     "source": "field_button", "priority": 2, "received_at": at, "updated_at": at,
                     "status": rnd.choice(("received", "dispatched", "acknowledged", "resolved", "closed"))})
        if cat in ("prank", "test") or rnd.random() < 0.3:
            continue
        for opd in rnd.sample(OPDS, rnd.choice((1, 1, 2))):
            d = at + timedelta(seconds=rnd.uniform(5, 90), microseconds=rnd.randrange(1_000_000))
            pace = timedelta(seconds=rnd.expovariate(1 / PACE[opd]), microseconds=rnd.randrange(1_000_000))
            ack = d + pace if rnd.random() < 0.9 else None
            res = ack + timedelta(seconds=rnd.uniform(600, 9000)) if ack and rnd.random() < 0.8 else None
            a = {"incident_pk": pk, "opd": opd, "dispatched_at": d, "acknowledged_at": ack,
                 "resolved_at": res,
                 "sla_ack_min": 5.0, "sla_resolve_min": 120.0,
                 "ack_escalated_at": None, "resolve_escalated_at": None, "status": "resolved" if res else
                 "acknowledged" if ack else "dispatched", "declined_at": None, "decline_reason": None,
                 "decline_note": None, "rerouted_at": None, "decline_wrong": False}
            roll = rnd.random()
            if roll < 0.10:
                when = d + timedelta(seconds=rnd.uniform(30, 600))
                a.update(status="declined", declined_at=when, decline_reason=rnd.choice(REASONS),
                         decline_wrong=rnd.random() < 0.2, acknowledged_at=None, resolved_at=None,
                         rerouted_at=when + timedelta(seconds=rnd.uniform(20, 900)) if rnd.random() < 0.8
                         else None)
            elif roll < 0.15:
                a["status"] = "withdrawn"
            asgs.append(a)
    for i in range(n):
        at = PREV_SINCE + timedelta(seconds=rnd.uniform(0, span - 6 * 3600))
        end = rnd.choice(("remote_hangup", "remote_hangup", "local_hangup", "missed", "abandoned",
                          "no_answer"))
        answered = end in ("remote_hangup", "local_hangup")
        calls.append({"id": f"C{i:025d}", "device_id": "panel-01", "seq": i,
                      "direction": "incoming" if rnd.random() < 0.9 else "outgoing",
                      "answer_s": rnd.choice((2.0, 5.0, 9.5, 15.0, 18.0, 20.0, 25.0, 45.0, 75.0))
                      if answered else None, "duration_s": 40.0, "end_reason": end,
                      "call_type": rnd.choice(CALL_TYPES), "received_at": at})
    with db.session() as s:
        s.execute(insert(Incident), incs)
        s.execute(insert(Assignment), asgs)
        s.execute(insert(Call), calls)
    return incs, asgs, calls


def week_starts() -> list[datetime]:
    """October 2026's buckets: the 1st (a Thursday), then each Monday."""
    days = [datetime(2026, 10, 1, tzinfo=TZ)] + [datetime(2026, 10, d, tzinfo=TZ) for d in (5, 12, 19, 26)]
    return [d.astimezone(UTC) for d in days]


def _bucket(t: datetime, starts: list[datetime]) -> int:
    return max(i for i, s in enumerate(starts) if t >= s)


def expected_board(cfg, rows: tuple[list, list, list], now: datetime) -> dict:
    """The dashboard of October 2026, from the raw rows."""
    incs, asgs, calls = rows
    kpis = expected(cfg, incs, asgs, calls, SINCE, UNTIL, now)
    prev = expected(cfg, incs, asgs, calls, PREV_SINCE, SINCE, now)["opds"]
    prev_by = {o["opd"]: o for o in prev}

    def diff(a, b):
        return None if a is None or b is None else a - b

    changes = [{"opd": o["opd"], "count": o["count"] - prev_by[o["opd"]]["count"],
                **{k: diff(o[k], prev_by[o["opd"]][k]) for k in
                   ("ack_median_s", "resolve_median_s", "ack_sla_compliance", "resolve_sla_compliance")}}
               for o in kpis["opds"]]
    starts = week_starts()
    mine = [a for a in asgs
            if SINCE <= a["dispatched_at"] < UNTIL and a["status"] not in ("declined", "withdrawn")]
    trend = []
    for o in kpis["opds"]:
        rows_o = [a for a in mine if a["opd"] == o["opd"]]
        count = [0] * len(starts)
        acks: list[list[float]] = [[] for _ in starts]
        for a in rows_o:
            k = _bucket(a["dispatched_at"], starts)
            count[k] += 1
            if a["acknowledged_at"]:
                acks[k].append((a["acknowledged_at"] - a["dispatched_at"]).total_seconds())
        trend.append({"opd": o["opd"], "count": count, "ack_median_s": [middle(v) for v in acks]})
    heat = [[0] * 24 for _ in range(7)]
    for i in incs:
        if SINCE <= i["received_at"] < UNTIL:
            local = i["received_at"].astimezone(TZ)
            heat[local.weekday()][local.hour] += 1
    inc_calls = [c for c in calls if SINCE <= c["received_at"] < UNTIL and c["direction"] == "incoming"]
    types: dict[str, list[int]] = {}
    for c in inc_calls:
        series = types.setdefault(c["call_type"] or "untyped", [0] * len(starts))
        series[_bucket(c["received_at"], starts)] += 1
    bands = [0] * 7
    for c in inc_calls:
        s = c["answer_s"]
        if s is not None:
            bands[next((i for i, hi in enumerate((5, 10, 15, 20, 30, 60)) if s <= hi), 6)] += 1
    reasons = Counter(c["end_reason"] for c in inc_calls)
    rerouted = Counter(a["opd"] for a in asgs
                       if SINCE <= a["dispatched_at"] < UNTIL and a["status"] == "withdrawn")
    declines = expected_declines(cfg, incs, asgs, SINCE, UNTIL)["opds"]
    return {"kpis": kpis, "previous": prev, "changes": changes, "declines": declines,
            "charts": {"trend": trend, "heatmap": heat, "call_types": dict(sorted(types.items())),
                       "answers": {"counts": bands, "end_reasons": dict(sorted(reasons.items())),
                                   "missed": reasons["missed"] + reasons["no_answer"],
                                   "abandoned": reasons["abandoned"]},
                       "rerouted": dict(rerouted), "starts": starts}}


def ranked(opds: list[dict]) -> list[dict]:
    """Fast to slow by median time to acknowledge."""
    return sorted(opds, key=lambda o: (o["ack_median_s"] is None, o["ack_median_s"] or 0.0))

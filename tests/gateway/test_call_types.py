"""Call types: stored on calls and cases, junk never reaches an OPD, the
console retypes a call, and the desk sees a caller's history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.store.models import Call, Outbox
from protocol.reports import CallEnd, CallRecord, Source
from protocol.topics import DeviceTopic
from tests.gateway.support import api_client, incident, make_user, register, site_config
from tests.gateway.test_api import ingest

NUM = "+6281200001111"


@pytest.fixture
def gw(broker, tmp_path, start_gateway):
    return start_gateway(site_config(tmp_path, broker), mqtt=False)


def _call(seq: int, call_type: str | None = None, **kw) -> CallRecord:
    return CallRecord(device="panel-1", seq=seq, direction="incoming", number=NUM, answer_s=2.0,
                      duration_s=10.0, end_reason=CallEnd.REMOTE_HANGUP, call_type=call_type,
                      operator="sari", **kw)


def test_junk_typed_panel_calls_are_stored_but_never_dispatched(gw):
    register(gw.db, "panel-1", profile="panel")
    calls = [_call(i) for i in range(1, 5)]
    # fire is auto-dispatched from panels: the call type alone must hold it back
    cases = [incident("panel-1", 10 + i, "fire", Source.PANEL_CALL, caller=NUM, call_id=c.id,
                      call_type=t)
             for i, (c, t) in enumerate(zip(calls, ["prank", "ghost", "test", "misdial"], strict=True))]
    ingest(gw, *[(DeviceTopic.INCIDENT, i) for i in cases], *[(DeviceTopic.CALL, c) for c in calls])
    with api_client(gw.url, make_user(gw.db, "op", "operator")) as api:
        for case, t in zip(cases, ["prank", "ghost", "test", "misdial"], strict=True):
            d = api.get(f"/api/incidents/{case.id}").json()
            assert (d["status"], d["reject_reason"], d["call_type"]) == ("rejected", t, t)
            assert d["call"]["call_type"] == t and d["call"]["operator"] == "sari"
            r = api.post(f"/api/incidents/{case.id}/transitions", json={"to": "dispatched"})
            assert r.status_code == 409
    with gw.db.session() as s:
        assert s.scalars(select(Outbox)).all() == []


def test_emergency_call_is_routed_and_information_waits_for_the_operator(gw):
    register(gw.db, "panel-1", profile="panel")
    fire = incident("panel-1", 1, "fire", Source.PANEL_CALL, caller=NUM, call_type="emergency")
    info = incident("panel-1", 2, "fire", Source.PANEL_CALL, caller=NUM, call_type="information")
    old = incident("panel-1", 3, "fire", Source.PANEL_CALL, caller=NUM)  # revision-1 unit
    ingest(gw, *[(DeviceTopic.INCIDENT, i) for i in (fire, info, old)])
    with api_client(gw.url, make_user(gw.db, "op", "operator")) as api:
        got = {i: api.get(f"/api/incidents/{i}").json()["status"] for i in (fire.id, info.id, old.id)}
    assert got == {fire.id: "dispatched", info.id: "received", old.id: "dispatched"}


def test_call_record_arriving_after_its_case_takes_the_case_type(gw):
    register(gw.db, "panel-1", profile="panel")
    call = _call(1)
    case = incident("panel-1", 2, "other", Source.PANEL_CALL, caller=NUM, call_id=call.id,
                    call_type="ghost")
    ingest(gw, (DeviceTopic.INCIDENT, case))
    ingest(gw, (DeviceTopic.CALL, call))
    with gw.db.session() as s:
        assert s.get(Call, call.id).call_type == "ghost"


def test_console_types_a_case_and_junk_rejects_it_before_dispatch(gw):
    op = make_user(gw.db, "op", "operator")
    with api_client(gw.url, op) as api:
        r = api.post("/api/incidents", json={"category": "other", "caller": NUM,
                                             "location": {"label": "Jl. Merdeka 1"}})
        ref = r.json()["id"]
        bad = api.post(f"/api/incidents/{ref}/call-type", json={"call_type": "spam"})
        assert bad.status_code == 422
        r = api.post(f"/api/incidents/{ref}/call-type", json={"call_type": "prank", "note": "tertawa"})
        assert r.status_code == 200
        d = r.json()
        assert (d["status"], d["call_type"], d["reject_reason"]) == ("rejected", "prank", "prank")
        assert any(t["event"] == "call_type" and t["actor"] == "op" for t in d["timeline"])
        # typed at creation: never routed
        r = api.post("/api/incidents", json={"category": "fire", "call_type": "test", "caller": NUM})
        assert r.json()["status"] == "rejected"
        # once an OPD has it, junk typing is refused
        r = api.post("/api/incidents", json={"category": "fire", "caller": NUM})
        ref = r.json()["id"]
        api.post(f"/api/incidents/{ref}/transitions", json={"to": "triaged"})
        assert api.post(f"/api/incidents/{ref}/transitions",
                        json={"to": "dispatched"}).json()["status"] == "dispatched"
        r = api.post(f"/api/incidents/{ref}/call-type", json={"call_type": "ghost"})
        assert r.status_code == 409 and "OPD" in r.json()["detail"]


def test_caller_history_counts_calls_by_type_and_lists_open_cases(gw):
    register(gw.db, "panel-1", profile="panel")
    ingest(gw, *[(DeviceTopic.CALL, _call(i, t)) for i, t in
                 enumerate(["prank", "prank", "ghost", None], start=1)])
    opd_user = make_user(gw.db, "dk", "opd", opd="damkar")
    with api_client(gw.url, make_user(gw.db, "op", "operator")) as api:
        api.post("/api/incidents", json={"category": "other", "caller": NUM})
        h = api.get(f"/api/callers/{NUM}").json()
        assert h["calls"] == 4 and h["by_type"] == {"prank": 2, "ghost": 1, "untyped": 1}
        assert len(h["open_cases"]) == 1
        assert api.get("/api/callers/not-a-number").status_code == 422
    with api_client(gw.url, opd_user) as api:
        assert api.get(f"/api/callers/{NUM}").status_code == 403

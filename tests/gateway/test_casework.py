"""The case page's API on a real gateway (SQLite and PostgreSQL): notes with
author and time, OPDs chosen at triage, the phone hand-off of a case no OPD
of the system takes, merging another report of the same event, the message
catalogue, and SMS cases on the live queue."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from gateway import catalogue
from gateway.events import Broadcaster
from gateway.metrics import Metrics
from gateway.sms.intake import Outcome, SmsIntake
from gateway.store.db import Database
from tests.gateway.support import api_client, make_user, site_config

POLICE_PHONE = "+62351000110"
POLICE = {"polres": f"    contacts: [{{name: SPKT Polres, role: piket, phone: '{POLICE_PHONE}'}}]"}


@pytest.fixture
def gw(broker, tmp_path, start_gateway, db_url):
    return start_gateway(site_config(tmp_path, broker, db_url=db_url, opd_extra=POLICE), mqtt=False)


def test_note_is_on_the_timeline_with_author_and_refused_when_empty_or_too_long(gw):
    with api_client(gw.url, make_user(gw.db, "op1", "operator")) as api:
        inc = api.post("/api/incidents", json={"category": "flood", "caller": "+6281200"}).json()
        r = api.post(f"/api/incidents/{inc['case_no']}/notes", json={"text": "Air setinggi lutut, 3 rumah"})
        assert r.status_code == 200
        note = [t for t in r.json()["timeline"] if t["event"] == "note"]
        assert [(n["actor"], n["note"]) for n in note] == [("op1", "Air setinggi lutut, 3 rumah")]
        assert note[0]["at"]
        for body in ({"text": ""}, {"text": "x" * 2001}):
            bad = api.post(f"/api/incidents/{inc['id']}/notes", json=body)
            assert bad.status_code == 422 and bad.json()["detail"][0]["msg"].startswith("Catatan")
    with api_client(gw.url, make_user(gw.db, "dam1", "opd", opd="damkar")) as opd:
        # not its case: refused, and nothing written
        assert opd.post(f"/api/incidents/{inc['id']}/notes", json={"text": "hai"}).status_code == 403


def test_operator_chooses_other_opds_at_triage(gw):
    with api_client(gw.url, make_user(gw.db, "op1", "operator")) as api:
        inc = api.post("/api/incidents", json={"category": "flood", "location": {"area": "Taman"},
                                               "call_type": "information"}).json()
        assert inc["status"] == "received" and inc["suggested_opds"] == ["bpbd"]
        api.post(f"/api/incidents/{inc['id']}/transitions", json={"to": "triaged"})
        r = api.post(f"/api/incidents/{inc['id']}/transitions",
                     json={"to": "dispatched", "opds": ["bpbd", "damkar"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert {a["opd"] for a in body["assignments"]} == {"bpbd", "damkar"}
        assert body["suggested_opds"] == []  # dispatched: the choice is made
        # a case the rules give an OPD is never "dispatched" to nobody
        flood = api.post("/api/incidents", json={"category": "flood", "caller": "+6281201",
                                                 "call_type": "information"}).json()
        assert flood["suggested_opds"] == ["bpbd"] and "handoff" not in flood["allowed_actions"]
        api.post(f"/api/incidents/{flood['id']}/transitions", json={"to": "triaged"})
        r = api.post(f"/api/incidents/{flood['id']}/transitions", json={"to": "dispatched", "opds": []})
        assert r.status_code == 409 and "paling sedikit satu OPD" in r.json()["detail"]


def test_phone_handoff_shows_whom_to_call_then_closes_with_who_took_it(gw):
    with api_client(gw.url, make_user(gw.db, "op1", "operator")) as api:
        crime = api.post("/api/incidents", json={"category": "crime",
                                                 "location": {"area": "Kartoharjo"}}).json()
        assert crime["status"] == "received" and crime["handoff"] is True  # no MoU: no OPD in the system
        assert "handoff" in crime["allowed_actions"] and crime["handoff_to"] == ["polres"]
        polres = next(o for o in api.get("/api/opds").json() if o["id"] == "polres")
        assert polres["contacts"][0]["phone"] == POLICE_PHONE
        assert api.post(f"/api/incidents/{crime['id']}/handoff", json={"to": "polres"}).status_code == 422
        r = api.post(f"/api/incidents/{crime['id']}/handoff",
                     json={"to": "polres", "note": "Bripka Andi, SPKT"})
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["status"] == "closed" and "handoff" not in done["allowed_actions"]
        last = done["timeline"][-1]
        assert (last["event"], last["opd"], last["actor"], last["note"]) == \
            ("handoff", "polres", "op1", "Bripka Andi, SPKT")
        assert api.post(f"/api/incidents/{crime['id']}/handoff", json={"note": "lagi"}).status_code == 409
        fire = api.post("/api/incidents", json={"category": "fire", "location": {"area": "Taman"}}).json()
        assert api.post(f"/api/incidents/{fire['id']}/handoff", json={"note": "x"}).status_code == 409


def test_merge_keeps_the_duplicate_pointing_to_the_main_case(gw):
    with api_client(gw.url, make_user(gw.db, "op1", "operator")) as api:
        main = api.post("/api/incidents", json={"category": "fire", "caller": "+6281100",
                                                "location": {"area": "Taman"}}).json()
        dup = api.post("/api/incidents", json={"category": "other", "caller": "+6281199",
                                               "description": "asap hitam di pasar"}).json()
        assert "merge" in dup["allowed_actions"]
        r = api.post(f"/api/incidents/{dup['id']}/merge",
                     json={"into": main["case_no"], "note": "pasar sama"})
        assert r.status_code == 200, r.text
        merged = r.json()
        assert merged["status"] == "rejected" and merged["reject_reason"] == "duplicate"
        assert merged["duplicate_of"] == main["id"] and merged["main_case"]["case_no"] == main["case_no"]
        again = api.get(f"/api/incidents/{main['id']}").json()
        assert [d["case_no"] for d in again["duplicates"]] == [dup["case_no"]]
        last = again["timeline"][-1]
        assert last["event"] == "duplicate" and dup["case_no"] in last["note"]
        # not into itself, not into a duplicate, not a case already with an OPD
        third = api.post("/api/incidents", json={"category": "other", "caller": "+6281188"}).json()
        assert api.post(f"/api/incidents/{third['id']}/merge", json={"into": third["id"]}).status_code == 409
        assert api.post(f"/api/incidents/{third['id']}/merge", json={"into": dup["id"]}).status_code == 409
        api.post(f"/api/incidents/{main['id']}/transitions", json={"to": "triaged"})
        api.post(f"/api/incidents/{main['id']}/transitions", json={"to": "dispatched"})
        assert api.post(f"/api/incidents/{main['id']}/merge", json={"into": third["id"]}).status_code == 409
        assert api.post(f"/api/incidents/{third['id']}/merge", json={"into": "MDN-0-404"}).status_code == 404


def test_catalogue_covers_every_code_in_both_languages(gw):
    assert catalogue.missing() == []
    for kind, codes in catalogue.LABELS.items():
        for code, (idn, eng) in codes.items():
            assert idn and eng, f"{kind}:{code}"
    with api_client(gw.url) as anon:  # no login needed: the login page reads it too
        idn = anon.get("/api/labels").json()
        eng = anon.get("/api/labels", params={"lang": "en"}).json()
        assert idn["status"]["on_scene"] == "Petugas di lokasi"
        assert eng["status"]["on_scene"] == "Responders on scene"
        assert idn["category"]["security_disturbance"] == "Gangguan keamanan dan ketertiban"
        assert idn["decline"]["not_ours"] == "Bukan wewenang kami"
        assert anon.get("/api/labels", params={"lang": "xx"}).status_code == 422
    assert catalogue.label("status", "unknown-code") == "unknown-code"  # never an error


def _sms_env(tmp_path):
    class _B:
        host, port = "127.0.0.1", 1
    extra = ("sms:\n  modem: {url: 'socket://127.0.0.1:1'}\n"
             "  master_key: {value: 'sms-master-secret-0123456789abc'}\n")
    cfg = site_config(tmp_path, _B(), extra=extra)
    db = Database(cfg.gateway.database_url)
    db.migrate()
    return cfg, db


def test_a_citizens_sms_case_is_pushed_to_the_live_queue(tmp_path):
    cfg, db = _sms_env(tmp_path)
    got: list[Outcome] = []
    try:
        intake = SmsIntake(db, cfg, Metrics(), on_case=got.append)
        out = intake.handle("+6281355", "Tolong ada pohon tumbang di Jl. Pahlawan")
        assert out.result == "report" and [o.case for o in got] == [out.case]
        intake.handle("+6281355", "   ")  # refused: no case, no event
        assert len(got) == 1
    finally:
        db.dispose()


def test_gateway_publishes_sms_cases_on_its_event_stream(tmp_path):
    """The runtime's hook: an SMS outcome becomes an ``event: case`` line for every console."""
    from gateway.runtime import Gateway

    cfg, db = _sms_env(tmp_path)
    db.dispose()
    gw = Gateway(cfg, mqtt=False)
    gw.build()
    events: Broadcaster = gw.app.state.gw.events

    async def one_event() -> str:
        stream = events.stream(_never_disconnected)
        assert "hello" in await anext(stream)
        gw.sms.intake.handle("+6281355", "Banjir di pasar")
        return await asyncio.wait_for(anext(stream), 5)

    try:
        line = asyncio.run(one_event())
        assert line.startswith("event: case") and '"new": true' in line and "MDN-" in line
    finally:
        gw.db.dispose()


async def _never_disconnected() -> bool:
    return False


def test_a_console_reads_only_what_changed_since_its_newest_case(gw):
    with api_client(gw.url, make_user(gw.db, "op1", "operator")) as api:
        old = api.post("/api/incidents", json={"category": "other", "caller": "+6281200011"}).json()
        new = api.post("/api/incidents", json={"category": "other", "caller": "+6281200012"}).json()
        noted = api.post(f"/api/incidents/{old['id']}/notes", json={"text": "ditelepon balik"}).json()
        assert datetime.fromisoformat(noted["updated_at"]) > datetime.fromisoformat(new["updated_at"])
        since = api.get("/api/incidents", params={"updated_since": noted["updated_at"]}).json()["items"]
        assert [i["id"] for i in since] == [old["id"]]  # the note moved it; the other did not change
        both = api.get("/api/incidents", params={"updated_since": new["updated_at"]}).json()["items"]
        assert {i["id"] for i in both} == {old["id"], new["id"]}
        assert api.get("/api/incidents", params={"updated_since": "kemarin"}).status_code == 422


def test_stopping_ends_open_console_streams(gw):
    """An open console's event stream never ends by itself; stopping the
    gateway ends it (the browser reconnects to whichever gateway serves), so
    the HTTP server really stops instead of being abandoned after its wait."""
    import httpx

    token = make_user(gw.db, "op1", "operator")
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c, \
            c.stream("GET", "/api/events") as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(lines).startswith("retry:")
        gw.stop()
        rest = list(lines)  # the stream ends: no more lines wait behind a keep-alive
    assert not any(x.startswith("event: case") for x in rest)
    assert not gw._http_thread.is_alive()

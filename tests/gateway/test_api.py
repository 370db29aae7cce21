"""The REST API over a real HTTP server: auth, OPD scoping, lifecycle rules,
filters and cursor pages, CSV, operator incidents, devices, calls."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from protocol.codec import encode
from protocol.reports import CallDirection, CallEnd, CallRecord
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import api_client, incident, make_user, register, site_config


@pytest.fixture
def gw(broker, tmp_path, start_gateway, db_url):
    return start_gateway(site_config(tmp_path, broker, db_url=db_url), mqtt=False)


def ingest(gw, *msgs) -> None:
    """Store device messages through the same group-commit path as MQTT."""
    Intake(gw.db, gw.cfg, Metrics()).process(
        [Message(device_topic(m.device, t), encode(m)) for t, m in msgs])


def test_unauthenticated_requests_get_401(gw):
    with api_client(gw.url) as api:
        for path in ("/api/incidents", "/api/incidents/MDN-2026-000001", "/api/kpis", "/api/devices",
                     "/api/opds", "/api/calls", "/api/export/incidents.csv", "/api/auth/me"):
            r = api.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == "Bearer"
        assert api.get("/api/incidents", headers={"Authorization": "Bearer sg_forged"}).status_code == 401
        assert api.get("/healthz").status_code == 200
        assert api.get("/docs").status_code == 200
        paths = api.get("/openapi.json").json()["paths"]
        assert "/api/incidents/{ref}/transitions" in paths and "/api/kpis" in paths


def test_opd_user_sees_and_acts_only_on_its_own_cases(gw):
    register(gw.db, "box-01", "box-02")
    fire = incident("box-01", 1, "fire")
    med = incident("box-02", 1, "medical", )
    ingest(gw, (DeviceTopic.INCIDENT, fire), (DeviceTopic.INCIDENT, med))
    damkar = make_user(gw.db, "damkar-1", "opd", opd="damkar")
    with api_client(gw.url, damkar) as api:
        ids = [i["id"] for i in api.get("/api/incidents").json()["items"]]
        assert ids == [fire.id]
        assert api.get(f"/api/incidents/{fire.id}").status_code == 200
        r = api.get(f"/api/incidents/{med.id}")
        assert r.status_code == 403
        r = api.post(f"/api/incidents/{med.id}/transitions", json={"to": "acknowledged"})
        assert r.status_code == 403
        # an OPD may not triage, dispatch, reject or close
        r = api.post(f"/api/incidents/{fire.id}/transitions", json={"to": "closed"})
        assert r.status_code == 403
        # nor act in another OPD's name
        r = api.post(f"/api/incidents/{fire.id}/transitions", json={"to": "acknowledged", "opd": "dinkes"})
        assert r.status_code == 403
        assert api.get("/api/kpis").status_code == 403
        assert api.get("/api/devices").status_code == 403
        csv_rows = list(csv.reader(io.StringIO(api.get("/api/export/incidents.csv").text)))
        assert [r[1] for r in csv_rows[1:]] == [fire.id]


def test_session_cookie_login_and_logout(gw):
    make_user(gw.db, "operator1", "operator")
    with httpx.Client(base_url=gw.url) as api:
        bad = api.post("/api/auth/login", json={"username": "operator1", "password": "nope-nope-nope"})
        assert bad.status_code == 401
        r = api.post("/api/auth/login", json={"username": "operator1", "password": "password-operator1"})
        assert r.status_code == 200 and r.json()["role"] == "operator"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        assert api.get("/api/auth/me").json()["username"] == "operator1"
        tok = api.post("/api/auth/tokens", json={"name": "script"}).json()["token"]
        assert api.post("/api/auth/logout").status_code == 204
        api.cookies.clear()
        assert api.get("/api/auth/me").status_code == 401
    with api_client(gw.url, tok) as api:
        assert api.get("/api/auth/me").json()["username"] == "operator1"


def test_a_logged_out_cookie_and_a_disabled_user_are_refused(gw):
    """Who a credential is stays cached a second (gateway.auth.CredentialCache):
    a logout here forgets it at once; a user disabled behind the API's back
    (another process, the database) is refused within that second."""
    from sqlalchemy import update

    from gateway.store.models import User
    from tests.gateway.support import wait_for

    make_user(gw.db, "operator1", "operator")
    with httpx.Client(base_url=gw.url) as api:
        api.post("/api/auth/login", json={"username": "operator1", "password": "password-operator1"})
        old = api.cookies.get("siaga_session")
        assert old and api.get("/api/auth/me").status_code == 200  # now cached
        tok = api.post("/api/auth/tokens", json={"name": "script"}).json()["token"]
        assert api.post("/api/auth/logout").status_code == 204
    with httpx.Client(base_url=gw.url, cookies={"siaga_session": old}) as stale:
        assert stale.get("/api/auth/me").status_code == 401  # at once, not after the cache's second
    with api_client(gw.url, tok) as api:
        assert api.get("/api/auth/me").status_code == 200  # cached
        with gw.db.session() as s:
            s.execute(update(User).where(User.username == "operator1").values(active=False))
        wait_for(lambda: api.get("/api/auth/me").status_code == 401, timeout=5)


def test_logins_at_once_hash_two_at_a_time_and_a_long_wait_says_busy(gw, monkeypatch):
    """Argon2 takes 64 MiB a check: 25 pages logging in together peaked the
    gateway at ~1.5 GB. Two checks run at once (gateway.auth.HASH_SLOTS), the
    others wait their turn (and hold no database connection meanwhile); one
    that waits past LOGIN_WAIT_S gets 503 with Retry-After, not a hang."""
    import threading

    from gateway import auth

    make_user(gw.db, "operator1", "operator")
    lock, now, most = threading.Lock(), [0], [0]
    real = auth._hasher

    class Counted:
        def verify(self, h: str, p: str) -> bool:
            with lock:
                now[0] += 1
                most[0] = max(most[0], now[0])
            try:
                return real.verify(h, p)
            finally:
                with lock:
                    now[0] -= 1

        def __getattr__(self, name: str):  # hash, check_needs_rehash
            return getattr(real, name)

    monkeypatch.setattr(auth, "_hasher", Counted())
    codes: list[int] = []

    def one() -> None:
        with httpx.Client(base_url=gw.url, timeout=60) as api:
            codes.append(api.post("/api/auth/login", json={"username": "operator1",
                                                          "password": "password-operator1"}).status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert codes == [200] * 8
    assert most[0] == 2  # both slots used, never a third
    monkeypatch.setattr(auth, "LOGIN_WAIT_S", 0.2)
    assert auth.HASH_SLOTS.acquire(timeout=5) and auth.HASH_SLOTS.acquire(timeout=5)
    try:  # both slots taken (a login storm): the next one is told to come back
        with httpx.Client(base_url=gw.url) as api:
            r = api.post("/api/auth/login", json={"username": "operator1", "password": "password-operator1"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        assert "sibuk" in r.json()["detail"]
    finally:
        auth.HASH_SLOTS.release()
        auth.HASH_SLOTS.release()


def test_credential_cache_bounds():
    from types import SimpleNamespace

    from gateway.auth import CredentialCache

    c = CredentialCache(ttl_s=60, max_entries=3)
    for i in range(3):
        c.put(f"t{i}", SimpleNamespace(id=i))  # type: ignore[arg-type]
    assert c.get("t2").id == 2 and c.get("nope") is None
    c.put("t3", SimpleNamespace(id=3))  # type: ignore[arg-type]
    assert c.get("t0") is None and c.get("t3").id == 3  # full: started over, never grows past 3
    off = CredentialCache(ttl_s=0)
    off.put("t", SimpleNamespace(id=1))  # type: ignore[arg-type]
    assert off.get("t") is None


def test_password_guessing_is_throttled(gw):
    from gateway.auth import LoginThrottle

    gw.app.state.gw.throttle = LoginThrottle(max_failures=4, window_s=600)
    make_user(gw.db, "operator1", "operator")
    make_user(gw.db, "operator2", "operator")
    with httpx.Client(base_url=gw.url) as api:
        codes = [api.post("/api/auth/login", json={"username": "operator1", "password": f"guess-{i}"})
                 .status_code for i in range(4)]
        assert codes == [401] * 4
        r = api.post("/api/auth/login", json={"username": "operator1", "password": "password-operator1"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        # another user is not locked out
        r = api.post("/api/auth/login", json={"username": "operator2", "password": "password-operator2"})
        assert r.status_code == 200


def test_lifecycle_from_the_console_and_illegal_steps_409(gw):
    register(gw.db, "panel-01", profile="panel")
    tok = make_user(gw.db, "op", "operator")
    with api_client(gw.url, tok) as api:
        # a street-light report is not auto-dispatched: the operator triages it
        r = api.post("/api/incidents", json={"category": "street_light", "description": "Lampu mati",
                                             "location": {"label": "Jl. Pahlawan", "area": "Taman"}})
        assert r.status_code == 201
        case = r.json()["case_no"]
        assert r.json()["status"] == "received"

        def step(body):
            return api.post(f"/api/incidents/{case}/transitions", json=body)

        r = step({"to": "resolved", "opd": "damkar"})
        assert r.status_code == 409 and "case is received" in r.json()["detail"]
        r = step({"to": "closed"})
        assert r.status_code == 409 and "received -> closed" in r.json()["detail"]
        assert step({"to": "triaged"}).status_code == 200
        r = step({"to": "dispatched", "opds": ["nope"]})
        assert r.status_code == 409 and "unknown OPD" in r.json()["detail"]
        r = step({"to": "dispatched", "opds": ["dinkes", "bpbd"]})
        assert r.status_code == 200 and r.json()["status"] == "dispatched"
        assert step({"to": "acknowledged"}).status_code == 409  # which OPD?
        r = step({"to": "resolved", "opd": "dinkes"})
        assert r.status_code == 409 and "acknowledge first" in r.json()["detail"]
        assert step({"to": "acknowledged", "opd": "dinkes"}).json()["status"] == "acknowledged"
        assert step({"to": "acknowledged", "opd": "bpbd"}).json()["status"] == "acknowledged"
        assert step({"to": "on_scene", "opd": "bpbd"}).json()["status"] == "on_scene"
        assert step({"to": "resolved", "opd": "dinkes"}).json()["status"] == "on_scene"  # bpbd still open
        r = step({"to": "resolved", "opd": "bpbd"})
        assert r.json()["status"] == "resolved"
        assert step({"to": "closed"}).json()["status"] == "closed"
        r = step({"to": "triaged"})
        assert r.status_code == 409 and "final state" in r.json()["detail"]
        timeline = r = api.get(f"/api/incidents/{case}").json()["timeline"]
        statuses = [t["to_status"] for t in timeline if t["event"] == "status"]
        assert statuses == ["received", "triaged", "dispatched", "acknowledged", "on_scene", "resolved",
                            "closed"]
        assert all(t["actor"] == "op" and t["via"] == "api" for t in timeline)
        # reject needs a reason
        case2 = api.post("/api/incidents", json={"category": "other", "caller": "+628111"}).json()["case_no"]
        r = api.post(f"/api/incidents/{case2}/transitions", json={"to": "rejected"})
        assert r.status_code == 409
        r = api.post(f"/api/incidents/{case2}/transitions", json={"to": "rejected", "reason": "duplicate"})
        assert r.json()["status"] == "rejected" and r.json()["reject_reason"] == "duplicate"


def test_filters_cursor_pages_and_csv(gw):
    register(gw.db, "box-a", "box-b")
    msgs = [incident("box-a" if i % 2 else "box-b", i, "fire" if i % 3 else "flood") for i in range(7)]
    ingest(gw, *[(DeviceTopic.INCIDENT, m) for m in msgs])
    tok = make_user(gw.db, "sup", "supervisor")
    with api_client(gw.url, tok) as api:
        seen, cursor = [], None
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = api.get("/api/incidents", params=params).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [m.id for m in reversed(msgs)]
        by_dev = api.get("/api/incidents", params={"device": "box-a"}).json()["items"]
        assert {i["device_id"] for i in by_dev} == {"box-a"} and len(by_dev) == 3
        floods = api.get("/api/incidents", params={"category": "flood"}).json()["items"]
        # no area rule matches (the boxes have no area): the catalogue default, BPBD
        assert len(floods) == 3 and {i["status"] for i in floods} == {"dispatched"}
        assert {a["opd"] for i in floods for a in i["assignments"]} == {"bpbd"}
        by_opd = api.get("/api/incidents", params={"opd": "damkar", "status": "dispatched"}).json()["items"]
        assert len(by_opd) == 4
        future = api.get("/api/incidents", params={"since": "2999-01-01T00:00:00Z"}).json()["items"]
        assert future == []
        assert api.get("/api/incidents", params={"cursor": "!!"}).status_code == 422
        text = api.get("/api/export/incidents.csv", params={"category": "fire"}).text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 4 and {r["opds"] for r in rows} == {"damkar"}
        assert all(r["case_no"].startswith("MDN-") for r in rows)


def test_call_records_and_answer_time_kpis(gw):
    register(gw.db, "panel-01", profile="panel")
    calls = [CallRecord(device="panel-01", seq=i, direction=CallDirection.INCOMING, answer_s=s,
                        duration_s=30, end_reason=CallEnd.REMOTE_HANGUP)
             for i, s in enumerate([3.0, 8.0, 12.0, 16.0, 25.0])]
    calls.append(CallRecord(device="panel-01", seq=9, direction=CallDirection.INCOMING,
                            end_reason=CallEnd.MISSED))
    ingest(gw, *[(DeviceTopic.CALL, c) for c in calls], (DeviceTopic.CALL, calls[0]))
    tok = make_user(gw.db, "sup", "supervisor")
    with api_client(gw.url, tok) as api:
        items = api.get("/api/calls", params={"device": "panel-01"}).json()["items"]
        assert len(items) == 6  # the re-delivered one stored once
        k = api.get("/api/kpis").json()["calls"]
        # a period a client cannot mean: refused with a sentence, not a 500 or a minute's work
        for path, q in (("/api/kpis", {"until": "0001-01-01T00:00:01Z"}),
                        ("/api/kpis", {"since": "1316-09-12T06:50:48Z"}),
                        ("/api/kpis/declines", {"since": "2026-01-01T00:00:00Z",
                                                "until": "9999-12-31T23:59:59Z"}),
                        ("/api/kpis", {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})):
            r = api.get(path, params=q)
            assert r.status_code == 422 and "/" in r.json()["detail"], (path, q, r.text)
    assert k["calls"] == 6 and k["answered"] == 5 and k["missed"] == 1
    assert k["within_15s"] == 3 / 5 and k["within_20s"] == 4 / 5
    assert k["meets_15s_target"] is False and k["answer_median_s"] == 12.0


def test_devices_admin_and_opds(gw):
    admin = make_user(gw.db, "admin", "admin")
    op = make_user(gw.db, "op", "operator")
    with api_client(gw.url, op) as api:
        assert api.post("/api/devices", json={"id": "box-9", "profile": "field"}).status_code == 403
        opds = api.get("/api/opds").json()
        assert [o["id"] for o in opds] == ["damkar", "dinkes", "bpbd", "polres"]
    with api_client(gw.url, admin) as api:
        r = api.post("/api/devices", json={"id": "box-9", "profile": "field", "area": "Taman"})
        assert r.status_code == 201 and r.json()["enabled"] is True
        assert api.post("/api/devices", json={"id": "box-9", "profile": "field"}).status_code == 409
        assert api.post("/api/devices", json={"id": "Bad/Id", "profile": "field"}).status_code == 422
        r = api.patch("/api/devices/box-9", json={"enabled": False, "label": "Alun-alun"})
        assert r.json()["enabled"] is False and r.json()["label"] == "Alun-alun"
        assert api.patch("/api/devices/nope", json={"enabled": True}).status_code == 404
        r = api.post("/api/users", json={"username": "pu1", "password": "0123456789ab", "role": "opd",
                                         "opd": "nope"})
        assert r.status_code == 422
        r = api.post("/api/users", json={"username": "pu1", "password": "0123456789ab", "role": "opd",
                                         "opd": "damkar"})
        assert r.status_code == 201 and r.json()["opd"] == "damkar"


def test_readyz_reports_database_and_mqtt(broker, tmp_path, start_gateway, db_url):
    gw = start_gateway(site_config(tmp_path, broker, db_url=db_url))
    with api_client(gw.url) as api:
        r = api.get("/readyz")
        assert r.status_code == 200
        assert r.json()["checks"] == {"database": True, "mqtt": True, "workers": True}
        broker.kill()
        from tests.gateway.support import wait_for

        r = wait_for(lambda: (x := api.get("/readyz")).status_code == 503 and x)
        assert r.json()["checks"]["mqtt"] is False


def test_operator_incident_follows_auto_dispatch_and_police_handoff(broker, tmp_path, opd_server,
                                                                    start_gateway, db_url):
    from protocol.reports import Source

    cfg = site_config(tmp_path, broker, db_url=db_url, hooks={"damkar": opd_server.url})
    cfg.routing.auto_dispatch[0].sources.append(Source.OPERATOR)
    gw = start_gateway(cfg, mqtt=False)
    tok = make_user(gw.db, "op", "operator")
    with api_client(gw.url, tok) as api:
        fire = api.post("/api/incidents", json={"category": "fire", "caller": "+6281234"}).json()
        assert fire["status"] == "dispatched" and fire["source"] == "operator"
        crime = api.post("/api/incidents", json={"category": "crime", "caller": "+628111"}).json()
        # no police MoU in this site: no OPD, the operator hands it off by phone
        assert crime["status"] == "triaged" and crime["handoff"] is True and crime["assignments"] == []
        r = api.post(f"/api/incidents/{crime['id']}/transitions",
                     json={"to": "dispatched", "note": "diteruskan ke SPKT lewat telepon"})
        assert r.status_code == 200 and r.json()["assignments"] == []
        assert api.post(f"/api/incidents/{crime['id']}/transitions",
                        json={"to": "acknowledged"}).json()["status"] == "acknowledged"
    from tests.gateway.support import wait_for

    wait_for(lambda: opd_server.hits)
    assert opd_server.bodies()[0]["case"] == fire["case_no"]


def test_a_write_is_visible_as_soon_as_it_is_answered(gw):
    """The transaction commits before the response leaves: on PostgreSQL a
    commit after the response let the next request miss the write."""
    admin = make_user(gw.db, "admin", "admin")
    with api_client(gw.url, admin) as api:
        for i in range(40):
            dev = f"box-{i:02d}"
            assert api.post("/api/devices", json={"id": dev, "profile": "field"}).status_code == 201
            assert api.get(f"/api/devices/{dev}").status_code == 200, dev

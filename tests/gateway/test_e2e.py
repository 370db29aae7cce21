"""End to end on real parts: Mosquitto, a SQLite file, the gateway's HTTP
server and a real HTTP server as the OPD's webhook."""

from __future__ import annotations

import json

from gateway.dispatch import signing
from protocol.codec import decode, encode
from protocol.reports import Ack
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import (
    WEBHOOK_SECRET,
    api_client,
    incident,
    make_user,
    register,
    site_config,
    wait_for,
)
from tests.support.mqtt import TestClient


def ack_items(unit: TestClient, n: int) -> list:
    """The next ``n`` stored items acked to ``unit`` (one ack may list several)."""
    out: list = []
    while len(out) < n:
        out += decode(Ack, unit.get(timeout=15).payload).stored
    return out


def test_incident_stored_once_acked_routed_signed_and_acknowledged(
        broker, tmp_path, opd_server, start_gateway, db_url):
    cfg = site_config(tmp_path, broker, hooks={"damkar": opd_server.url}, db_url=db_url)
    gw = start_gateway(cfg)
    register(gw.db, "box-01")
    sup = make_user(gw.db, "walikota", "supervisor")
    opd_token = make_user(gw.db, "damkar-1", "opd", opd="damkar")

    unit = TestClient(broker, "box-01").start()
    unit.subscribe(device_topic("box-01", DeviceTopic.ACK))
    msg = incident("box-01", description="Rumah terbakar", category="fire")
    for _ in range(3):
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))
    items = ack_items(unit, 3)
    assert [i.id for i in items] == [msg.id] * 3
    assert [i.duplicate for i in items] == [False, True, True]
    case = items[0].case
    assert case is not None and case.startswith("MDN-") and all(i.case == case for i in items)
    # one new record, two re-deliveries: each counted where it belongs
    assert gw.metrics.stored.labels(kind="incident")._value.get() == 1
    assert gw.metrics.duplicates.labels(kind="incident")._value.get() == 2

    with api_client(gw.url, sup) as api:
        page = api.get("/api/incidents").json()
        assert [i["id"] for i in page["items"]] == [msg.id]  # stored once
        inc = page["items"][0]
        assert inc["status"] == "dispatched"
        assert [a["opd"] for a in inc["assignments"]] == ["damkar"]

    # delivered to the OPD's webhook with a valid signature
    hit = wait_for(lambda: opd_server.hits and opd_server.hits[0])
    hdrs = {k.lower(): v for k, v in hit.headers.items()}
    assert signing.verify_webhook(WEBHOOK_SECRET, hdrs, hit.body) is None
    assert signing.verify_webhook("another-secret-000000000", hdrs, hit.body) == "signature mismatch"
    body = json.loads(hit.body)
    assert body["case"] == case and body["opd"] == "damkar" and body["incident_id"] == msg.id

    # the OPD acknowledges through the API (its own bearer token), then resolves
    with api_client(gw.url, opd_token) as api:
        r = api.post(f"/api/incidents/{case}/transitions", json={"to": "acknowledged"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "acknowledged"
        again = api.post(f"/api/incidents/{case}/transitions", json={"to": "acknowledged"})
        assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
        r = api.post(f"/api/incidents/{case}/transitions", json={"to": "resolved"})
        assert r.json()["status"] == "resolved"
        timeline = [(t["to_status"], t["event"], t["via"]) for t in r.json()["timeline"]]
    assert timeline[0] == ("received", "status", "mqtt")
    assert ("dispatched", "acknowledge", "api") in timeline
    assert ("acknowledged", "status", "api") in timeline
    assert timeline[-1] == ("resolved", "status", "api")

    # the KPIs show the measured times
    with api_client(gw.url, sup) as api:
        detail = api.get(f"/api/incidents/{msg.id}").json()
        a = detail["assignments"][0]
        kpis = api.get("/api/kpis").json()
    from datetime import datetime

    def secs(x: str, y: str) -> float:
        return (datetime.fromisoformat(y) - datetime.fromisoformat(x)).total_seconds()

    damkar = next(o for o in kpis["opds"] if o["opd"] == "damkar")
    assert damkar["count"] == 1 and damkar["acknowledged"] == 1 and damkar["resolved"] == 1
    assert abs(damkar["ack_median_s"] - secs(a["dispatched_at"], a["acknowledged_at"])) < 1e-3
    assert abs(damkar["resolve_p90_s"] - secs(a["dispatched_at"], a["resolved_at"])) < 1e-3
    assert damkar["ack_sla_compliance"] == 1.0
    assert kpis["incidents"] == 1 and kpis["by_category"] == {"fire": 1}
    unit.stop()


def test_opd_callback_signed_with_webhook_secret_moves_case(broker, tmp_path, opd_server, start_gateway,
                                                            db_url):
    cfg = site_config(tmp_path, broker, db_url=db_url, hooks={"damkar": opd_server.url})
    gw = start_gateway(cfg)
    register(gw.db, "box-02")
    unit = TestClient(broker, "box-02").start()
    msg = incident("box-02")
    unit.publish(device_topic("box-02", DeviceTopic.INCIDENT), encode(msg))
    dispatch = wait_for(lambda: opd_server.bodies() and opd_server.bodies()[0])
    path = f"/api/callbacks/damkar/incidents/{dispatch['incident_id']}/acknowledged"
    body = b'{"note": "unit 3 berangkat"}'
    with api_client(gw.url) as api:
        bad = api.post(path, content=body, headers=signing.headers("wrong-secret-wrong-secret", body))
        assert bad.status_code == 401
        unsigned = api.post(path, content=body)
        assert unsigned.status_code == 401
        stale = api.post(path, content=body, headers=signing.headers(WEBHOOK_SECRET, body, now=1.0))
        assert stale.status_code == 401 and "replay" in stale.json()["detail"]
        ok = api.post(path, content=body, headers=signing.headers(WEBHOOK_SECRET, body))
        assert ok.status_code == 204, ok.text
        again = api.post(path, content=body, headers=signing.headers(WEBHOOK_SECRET, body))
        assert again.status_code == 409
        # signed correctly, but for another OPD's case (dinkes has no webhook secret here)
        other = path.replace("/damkar/", "/dinkes/")
        assert api.post(other, content=body, headers=signing.headers(WEBHOOK_SECRET, body)).status_code == 401
    sup = make_user(gw.db, "sup", "supervisor")
    with api_client(gw.url, sup) as api:
        inc = api.get(f"/api/incidents/{dispatch['incident_id']}").json()
    assert inc["status"] == "acknowledged"
    ack = next(t for t in inc["timeline"] if t["event"] == "acknowledge")
    assert ack["actor"] == "opd:damkar" and ack["via"] == "callback" and ack["note"] == "unit 3 berangkat"
    unit.stop()

"""The OPD side through the real broker and real HTTP: a fire sent to Damkar
and PSC 119 (dinkes); Damkar resolves, PSC 119 declines "not ours"; the
operator re-routes to BPBD, which resolves; the case closes. The same story
typed in by an operator leaves the same audit trail; the KPIs show the
declines and the re-route times; webhooks verify with the off-the-shelf
``standardwebhooks`` package."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.dispatch import signing
from protocol.codec import encode
from protocol.ids import new_id
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import (
    WEBHOOK_SECRET,
    OpdServer,
    api_client,
    incident,
    make_user,
    register,
    site_config,
    wait_for,
)
from tests.support.mqtt import TestClient


def callback(api, opd: str, inc_id: str, step: str, data: dict | None = None) -> None:
    """The OPD's own system answers, signed the Standard Webhooks way."""
    body = json.dumps(data or {}).encode()
    r = api.post(f"/api/callbacks/{opd}/incidents/{inc_id}/{step}", content=body,
                 headers=signing.webhook_headers(WEBHOOK_SECRET, new_id(), body)
                 | {"content-type": "application/json"})
    assert r.status_code == 204, r.text


def play(op, bpbd, inc_id: str) -> list[dict]:
    """The whole story on one case; returns its timeline."""
    inc = wait_for(lambda: (lambda i: i if len(i["assignments"]) == 2 else None)(
        op.get(f"/api/incidents/{inc_id}").json()))
    assert inc["status"] == "dispatched"
    assert sorted(a["opd"] for a in inc["assignments"]) == ["damkar", "dinkes"]
    callback(op, "damkar", inc_id, "acknowledged", {"responder": "Regu 2 Pos Taman",
                                                     "responder_kind": "team"})
    callback(op, "damkar", inc_id, "on_scene")
    callback(op, "damkar", inc_id, "resolved", {"note": "api padam"})
    inc = op.get(f"/api/incidents/{inc_id}").json()
    assert inc["status"] == "dispatched"  # damkar done, PSC 119 has not answered
    callback(op, "dinkes", inc_id, "declined", {"reason": "not_ours", "note": "tidak ada korban"})
    inc = op.get(f"/api/incidents/{inc_id}").json()
    dam, med = (next(a for a in inc["assignments"] if a["opd"] == o) for o in ("damkar", "dinkes"))
    assert dam["status"] == "resolved" and dam["responder"] == "Regu 2 Pos Taman"
    assert med["status"] == "declined" and med["decline_reason"] == "not_ours"
    assert inc["attention"] == "ditolak oleh / declined by dinkes: not_ours (tidak ada korban)"
    assert inc["status"] == "resolved" and "assign" in inc["allowed_actions"]
    # a declined OPD cannot act on it any more; the pages are told so
    assert med["allowed_actions"] == []
    # the operator re-routes the declined part to BPBD
    r = op.post(f"/api/incidents/{inc_id}/assignments", json={"opds": ["bpbd"]})
    assert r.status_code == 200, r.text
    inc = r.json()
    assert inc["status"] == "dispatched" and inc["attention"] is None
    # BPBD in its portal's API: acknowledge naming the vehicle, then resolve
    b = next(a for a in bpbd.get(f"/api/incidents/{inc_id}").json()["assignments"] if a["opd"] == "bpbd")
    assert b["allowed_actions"] == ["acknowledged", "declined"]
    r = bpbd.post(f"/api/incidents/{inc_id}/steps", json={"step": "acknowledged", "responder": "Truk 3",
                                                          "responder_kind": "vehicle"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    r = bpbd.post(f"/api/incidents/{inc_id}/steps", json={"step": "resolved"})
    assert r.json()["status"] == "resolved"
    r = op.post(f"/api/incidents/{inc_id}/transitions", json={"to": "closed"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    return r.json()["timeline"]


def trail(timeline: list[dict]) -> list[tuple]:
    """The audit trail without times; the first row's reporter differs by
    channel (device over MQTT, operator over the API)."""
    rows = [(t["from_status"], t["to_status"], t["event"], t["opd"], t["note"], t["actor"], t["via"])
            for t in timeline]
    return [rows[0][:5], *rows[1:]]


def test_fire_two_opds_decline_reroute_close_same_trail_both_ways(broker, tmp_path, start_gateway, db_url):
    hooks = {o: OpdServer() for o in ("damkar", "dinkes", "bpbd")}
    try:
        cfg = site_config(tmp_path, broker, hooks={o: s.url for o, s in hooks.items()},
                          fire_opds="damkar, dinkes", auto_sources="field_button, panel_call, operator",
                          db_url=db_url)
        gw = start_gateway(cfg)
        register(gw.db, "box-01", area="Taman")
        op_tok = make_user(gw.db, "op", "operator")
        sup_tok = make_user(gw.db, "sup", "supervisor")
        bpbd_tok = make_user(gw.db, "bpbd1", "opd", opd="bpbd")
        unit = TestClient(broker, "box-01").start()
        msg = incident("box-01")
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))
        with api_client(gw.url, op_tok) as op, api_client(gw.url, bpbd_tok) as bpbd:
            by_mqtt = play(op, bpbd, msg.id)
            typed = op.post("/api/incidents", json={"category": "fire", "location": {"area": "Taman"}})
            assert typed.status_code == 201
            by_api = play(op, bpbd, typed.json()["id"])
        assert by_mqtt[0]["via"] == "mqtt" and by_api[0]["via"] == "api"
        assert trail(by_mqtt) == trail(by_api)
        events = [t["event"] for t in by_mqtt]
        assert events.count("decline") == 1 and events.count("responder") == 2
        assert [t["to_status"] for t in by_mqtt if t["event"] == "status"] == [
            "received", "triaged", "dispatched", "acknowledged", "on_scene", "dispatched", "resolved",
            "dispatched", "acknowledged", "resolved", "closed"]

        with api_client(gw.url, sup_tok) as sup:
            dec = sup.get("/api/kpis/declines").json()
            med = next(o for o in dec["opds"] if o["opd"] == "dinkes")
            assert med["declines"] == 2 and med["by_reason"] == {"not_ours": 2} and med["waiting"] == 0
            assert med["reroute_median_s"] is not None and med["reroute_median_s"] > 0
            assert med["wrong"] == 0
            assert [r["opd"] for r in dec["recent"]] == ["dinkes", "dinkes"]
            k = sup.get("/api/kpis").json()
            speed = {o["opd"]: o for o in k["opds"]}
            # a declined part does not count against PSC 119's speed
            assert speed["dinkes"]["count"] == 0 and speed["dinkes"]["ack_median_s"] is None
            assert speed["bpbd"]["count"] == 2 and speed["bpbd"]["resolved"] == 2
            deliveries = wait_for(lambda: (lambda d: d if len(d) == 6 and all(
                x["status"] == "delivered" for x in d) else None)(sup.get("/api/deliveries").json()))

        # every webhook verifies with the standardwebhooks package; the id is the delivery id
        ids = {d["id"] for d in deliveries}
        for server in hooks.values():
            for hit in server.hits:
                h = {k.lower(): v for k, v in hit.headers.items()}
                assert h["webhook-id"] in ids
                assert Webhook(signing.whsec(WEBHOOK_SECRET)).verify(hit.body, h)["v"] == 1
        unit.stop()
    finally:
        for s in hooks.values():
            s.stop()


def test_standardwebhooks_refuses_tampered_body_timestamp_or_id():
    body = json.dumps({"v": 1, "case": "MDN-2026-000001"}).encode()
    h = signing.webhook_headers(WEBHOOK_SECRET, "01JDELIVERY000000000000000", body)
    wh = Webhook(signing.whsec(WEBHOOK_SECRET))
    assert wh.verify(body, h) == {"v": 1, "case": "MDN-2026-000001"}
    tampered = [
        (body.replace(b"000001", b"000002"), h),
        (body, h | {"webhook-timestamp": str(int(h["webhook-timestamp"]) - 1)}),
        (body, h | {"webhook-id": "01JDELIVERY000000000000001"}),
        (body, h | {"webhook-timestamp": str(int(time.time()) - 3600)}),  # replayed an hour later
    ]
    for data, hdrs in tampered:
        with pytest.raises(WebhookVerificationError):
            wh.verify(data, hdrs)
    # our own verifier (the callbacks' and the demo OPDs') agrees
    assert signing.verify_webhook(WEBHOOK_SECRET, h, body) is None
    assert signing.verify_webhook(WEBHOOK_SECRET, tampered[2][1], body) == "signature mismatch"
    # a whsec_ secret in the site file is used as the vendor's library uses it
    key = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    h2 = signing.webhook_headers(key, "01JDELIVERY000000000000000", body)
    assert Webhook(key).verify(body, h2)["v"] == 1


def test_wrong_decline_is_visible_to_supervisors(broker, tmp_path, start_gateway, db_url):
    gw = start_gateway(site_config(tmp_path, broker, fire_opds="dinkes", db_url=db_url))
    op_tok, sup_tok = make_user(gw.db, "op", "operator"), make_user(gw.db, "sup", "supervisor")
    med_tok = make_user(gw.db, "med", "opd", opd="dinkes")
    with api_client(gw.url, op_tok) as op, api_client(gw.url, med_tok) as med, \
            api_client(gw.url, sup_tok) as sup:
        case = op.post("/api/incidents", json={"category": "fire", "caller": "+62811"}).json()["id"]
        op.post(f"/api/incidents/{case}/transitions", json={"to": "triaged"})
        assert op.post(f"/api/incidents/{case}/transitions", json={"to": "dispatched"}).status_code == 200
        r = med.post(f"/api/incidents/{case}/steps", json={"step": "declined"})
        assert r.status_code == 409 and "reason" in r.json()["detail"]
        r = med.post(f"/api/incidents/{case}/steps", json={"step": "declined", "reason": "no_capacity"})
        # its only OPD declined: back in the operators' queue
        assert r.json()["status"] == "triaged" and "declined by dinkes" in r.json()["attention"]
        assert "assign" in op.get(f"/api/incidents/{case}").json()["allowed_actions"]
        # the operator sends it back: the decline is marked wrong, the OPD's clock restarts
        r = op.post(f"/api/incidents/{case}/assignments", json={"opds": ["dinkes"]})
        assert r.status_code == 200 and r.json()["status"] == "dispatched"
        a = r.json()["assignments"][0]
        assert a["status"] == "dispatched" and a["decline_wrong"] is True
        assert med.post(f"/api/incidents/{case}/steps", json={"step": "acknowledged"}).status_code == 200
        row = sup.get("/api/kpis/declines").json()
        assert next(o for o in row["opds"] if o["opd"] == "dinkes")["wrong"] == 1
        assert row["recent"][0]["wrong"] is True
        # an OPD may not touch another OPD's part
        r = med.post(f"/api/incidents/{case}/steps", json={"step": "resolved", "opd": "damkar"})
        assert r.status_code == 403

"""Dispatch through the outbox: retries while an OPD is down, dead-letter
when it stays down, manual re-dispatch, MQTT terminals, every attempt recorded."""

from __future__ import annotations

import json

from protocol.codec import decode, encode
from protocol.dispatch import Dispatch
from protocol.topics import DeviceTopic, device_topic, opd_dispatch_topic
from tests.gateway.support import (
    OpdServer,
    api_client,
    incident,
    make_user,
    register,
    site_config,
    wait_for,
)
from tests.support.mqtt import TestClient


def deliveries(api, ref: str) -> list[dict]:
    return api.get(f"/api/incidents/{ref}").json()["deliveries"]


def test_opd_down_for_a_while_gets_the_dispatch_when_back(broker, tmp_path, start_gateway, db_url):
    opd = OpdServer(status=503)  # up but failing first
    try:
        cfg = site_config(tmp_path, broker, db_url=db_url, hooks={"damkar": opd.url})
        cfg.gateway.dispatch.max_attempts = 50
        gw = start_gateway(cfg)
        register(gw.db, "box-01")
        tok = make_user(gw.db, "op", "operator")
        unit = TestClient(broker, "box-01").start()
        msg = incident("box-01")
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))
        wait_for(lambda: len(opd.hits) >= 2)  # refused twice: retried with backoff
        opd.stop()  # now gone entirely (connection refused)
        with api_client(gw.url, tok) as api:
            wait_for(lambda: any("Connect" in (a["error"] or "")
                                 for a in deliveries(api, msg.id)[0]["attempt_log"]))
            opd.status = 200
            opd.start()  # back on the same port
            d = wait_for(lambda: (x := deliveries(api, msg.id)[0])["status"] == "delivered" and x)
        log = d["attempt_log"]
        assert log[-1]["ok"] is True and log[-1]["http_status"] == 200
        assert [a["ok"] for a in log[:-1]] == [False] * (len(log) - 1)
        assert any(a["http_status"] == 503 for a in log)
        assert any(a["http_status"] is None and "Connect" in a["error"] for a in log)
        ok_bodies = [json.loads(h.body) for h in opd.hits]
        assert {b["incident_id"] for b in ok_bodies} == {msg.id}
        unit.stop()
    finally:
        opd.stop()


def test_opd_down_for_good_ends_in_dead_letter_and_can_be_redispatched(broker, tmp_path, start_gateway,
                                                                       db_url):
    from tests.gateway.support import WEBHOOK_SECRET

    opd, esc = OpdServer(status=500), OpdServer()
    try:
        extra = f"escalation:\n  webhook: {{url: '{esc.url}', secret: {{value: '{WEBHOOK_SECRET}'}}}}\n"
        gw = start_gateway(site_config(tmp_path, broker, db_url=db_url,
                                       hooks={"damkar": opd.url}, extra=extra))  # 3 tries
        register(gw.db, "box-01")
        tok = make_user(gw.db, "op", "operator")
        unit = TestClient(broker, "box-01").start()
        msg = incident("box-01")
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))
        with api_client(gw.url, tok) as api:
            dead = wait_for(lambda: api.get("/api/deliveries", params={"status": "dead"}).json())
            assert len(dead) == 1 and dead[0]["incident_id"] == msg.id
            assert dead[0]["attempts"] == 3 and dead[0]["last_error"] == "HTTP 500"
            assert len(opd.hits) == 3
            assert len(deliveries(api, msg.id)[0]["attempt_log"]) == 3
            # a re-dispatch of a pending row is refused; of a dead one, accepted
            opd.status = 200
            r = api.post(f"/api/deliveries/{dead[0]['id']}/redispatch")
            assert r.status_code == 200 and r.json()["status"] == "pending"
            again = api.post(f"/api/deliveries/{dead[0]['id']}/redispatch")
            assert again.status_code in (200, 409)
            wait_for(lambda: deliveries(api, msg.id)[0]["status"] == "delivered")
            assert api.post("/api/deliveries/01ARZ3NDEKTSV4RRFFQ69G5FAV/redispatch").status_code == 404
            timeline = api.get(f"/api/incidents/{msg.id}").json()["timeline"]
        assert any(t["event"] == "redispatch" and t["actor"] == "op" for t in timeline)
        dead_notes = [t for t in timeline if t["event"] == "dead_letter"]
        assert len(dead_notes) == 1 and dead_notes[0]["opd"] == "damkar"
        assert "HTTP 500" in dead_notes[0]["note"]
        notice = wait_for(lambda: esc.bodies())[0]
        assert notice["kind"] == "dead_letter" and notice["incident_id"] == msg.id
        assert len(opd.hits) >= 4
        unit.stop()
    finally:
        opd.stop()
        esc.stop()


def test_mqtt_terminal_receives_dispatch(broker, tmp_path, start_gateway, db_url):
    cfg = site_config(tmp_path, broker, db_url=db_url)
    cfg.opd("damkar").channels.mqtt_terminal = True
    gw = start_gateway(cfg)
    register(gw.db, "box-01")
    terminal = TestClient(broker, "damkar-terminal").start()
    terminal.subscribe(opd_dispatch_topic("damkar"))
    unit = TestClient(broker, "box-01").start()
    msg = incident("box-01")
    unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))
    d = decode(Dispatch, terminal.get(timeout=15).payload)
    assert d.incident_id == msg.id and d.opd == "damkar" and d.case.startswith("MDN-")
    assert d.sla_ack_min == 5
    unit.stop()
    terminal.stop()


def test_prank_and_test_are_stored_and_counted_never_routed(broker, tmp_path, opd_server, start_gateway,
                                                            db_url):
    gw = start_gateway(site_config(tmp_path, broker, db_url=db_url, hooks={"damkar": opd_server.url}))
    register(gw.db, "box-01")
    tok = make_user(gw.db, "sup", "supervisor")
    unit = TestClient(broker, "box-01").start()
    unit.subscribe(device_topic("box-01", DeviceTopic.ACK))
    for seq, cat in enumerate(["prank", "test", "fire"]):
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(incident("box-01", seq, cat)))
    wait_for(lambda: opd_server.hits)
    with api_client(gw.url, tok) as api:
        items = api.get("/api/incidents").json()["items"]
        by_cat = {i["category"]: i for i in items}
        assert by_cat["prank"]["status"] == "rejected" and by_cat["prank"]["reject_reason"] == "prank"
        assert by_cat["test"]["status"] == "rejected" and by_cat["test"]["assignments"] == []
        assert by_cat["fire"]["status"] == "dispatched"
        k = api.get("/api/kpis").json()
    assert k["prank"] == 1 and k["test"] == 1 and abs(k["prank_test_share"] - 2 / 3) < 1e-9
    assert [json.loads(h.body)["category"] for h in opd_server.hits] == ["fire"]
    unit.stop()


def test_a_hanging_opd_does_not_hold_the_others(broker, tmp_path, start_gateway, db_url):
    import threading

    hanging, healthy = OpdServer(), OpdServer()
    hanging.hold = threading.Event()
    try:
        cfg = site_config(tmp_path, broker, db_url=db_url,
                          hooks={"damkar": hanging.url, "dinkes": healthy.url})
        cfg.opd("damkar").channels.webhook.timeout_s = 30
        gw = start_gateway(cfg)
        register(gw.db, "box-01")
        tok = make_user(gw.db, "op", "operator")
        unit = TestClient(broker, "box-01").start()
        fire, med = incident("box-01", 1, "fire"), incident("box-01", 2, "medical")
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(fire))
        wait_for(lambda: hanging.hits)  # Damkar's server took the request and hangs
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(med))
        wait_for(lambda: healthy.hits)
        with api_client(gw.url, tok) as api:
            med_d = wait_for(lambda: (d := deliveries(api, med.id)[0])["status"] == "delivered" and d)
            fire_d = deliveries(api, fire.id)[0]
        assert med_d["attempts"] == 1
        assert fire_d["status"] == "pending" and fire_d["attempts"] == 0  # still in flight
        unit.stop()
    finally:
        hanging.hold.set()
        hanging.stop()
        healthy.stop()

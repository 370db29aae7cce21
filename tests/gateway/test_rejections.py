"""Bad input from the field: rejected, counted by reason, never a crash."""

from __future__ import annotations

import json
import logging

from protocol.codec import decode, encode
from protocol.reports import Ack
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import api_client, incident, make_user, register, site_config, wait_for
from tests.support.mqtt import TestClient


def counter(gw, reason: str) -> float:
    return gw.metrics.rejected_count(reason)


def metrics_text(gw) -> str:
    with api_client(gw.url) as api:
        r = api.get("/metrics")
    assert r.status_code == 200
    return r.text


def test_bad_payloads_rejected_counted_and_gateway_keeps_running(broker, tmp_path, start_gateway, caplog,
                                                                 db_url):
    gw = start_gateway(site_config(tmp_path, broker, db_url=db_url))
    register(gw.db, "box-good", "box-other")
    with gw.db.session() as s:
        from gateway.store import devices

        devices.add(s, "box-off", profile="field", enabled=False)
    unit = TestClient(broker, "tester").start()
    unit.subscribe(device_topic("box-good", DeviceTopic.ACK))
    caplog.set_level(logging.WARNING, logger="gateway.ingest")

    # topic says box-good, payload says box-other: spoofing guard
    spoof = incident("box-other")
    for _ in range(3):
        unit.publish(device_topic("box-good", DeviceTopic.INCIDENT), encode(spoof))
    # unknown device, disabled device
    unit.publish(device_topic("box-ghost", DeviceTopic.INCIDENT), encode(incident("box-ghost")))
    unit.publish(device_topic("box-off", DeviceTopic.INCIDENT), encode(incident("box-off")))
    # malformed JSON, schema violation, and 1 MB
    unit.publish(device_topic("box-good", DeviceTopic.INCIDENT), b"{not json")
    unit.publish(device_topic("box-good", DeviceTopic.CALL),
                 json.dumps({"v": 1, "id": "01KAQ40D3M2E8W6ZK1P7R9T5QH", "what": 1}))
    unit.publish(device_topic("box-good", DeviceTopic.INCIDENT), b"x" * (1024 * 1024))

    expected = {"device_mismatch": 3, "unknown_device": 1, "device_disabled": 1, "malformed_json": 1,
                "invalid": 1, "too_large": 1}
    # decode rejections are counted before a batch's commit, device ones during it: wait for all
    wait_for(lambda: all(counter(gw, r) >= n for r, n in expected.items()))
    assert counter(gw, "device_mismatch") == 3
    assert counter(gw, "unknown_device") == 1
    assert counter(gw, "device_disabled") == 1
    assert counter(gw, "malformed_json") == 1
    assert counter(gw, "invalid") == 1

    # the registered unit is told why (ack with rejections, the spoofed id named)
    rejected = []
    while len(rejected) < 6:
        rejected += decode(Ack, unit.get(timeout=10).payload).rejected
    reasons = sorted(r.reason for r in rejected)
    assert reasons == ["device_mismatch"] * 3 + ["invalid", "malformed_json", "too_large"]
    assert {r.id for r in rejected if r.reason == "device_mismatch"} == {spoof.id}

    # still running: a good incident after all that is stored and acked
    good = incident("box-good", seq=7)
    unit.publish(device_topic("box-good", DeviceTopic.INCIDENT), encode(good))
    stored = decode(Ack, unit.get(timeout=10).payload).stored
    assert [i.id for i in stored] == [good.id]

    # exposed in Prometheus format
    text = metrics_text(gw)
    assert 'siaga_gateway_rejected_total{reason="device_mismatch"} 3.0' in text
    assert 'siaga_gateway_rejected_total{reason="too_large"} 1.0' in text

    # logged once per reason and device, not per message
    mismatch_logs = [r for r in caplog.records if "device_mismatch" in r.getMessage()]
    assert len(mismatch_logs) == 1

    # nothing of it was stored
    tok = make_user(gw.db, "op", "operator")
    with api_client(gw.url, tok) as api:
        ids = [i["id"] for i in api.get("/api/incidents").json()["items"]]
    assert ids == [good.id]
    unit.stop()


def test_status_and_telemetry_update_the_device(broker, tmp_path, start_gateway, db_url):
    from protocol.fleet import Status, Telemetry

    gw = start_gateway(site_config(tmp_path, broker, db_url=db_url))
    register(gw.db, "box-t")
    unit = TestClient(broker, "box-t").start()
    unit.publish(device_topic("box-t", DeviceTopic.STATUS),
                 encode(Status(device="box-t", state="online", firmware="1.2.3")), retain=True)
    unit.publish(device_topic("box-t", DeviceTopic.TELEMETRY),
                 encode(Telemetry(device="box-t", seq=1, signal_dbm=-71, outbox_depth=2)), qos=0)
    tok = make_user(gw.db, "op", "operator")
    with api_client(gw.url, tok) as api:
        dev = wait_for(lambda: (d := api.get("/api/devices/box-t").json())["last_telemetry"] and d)
        assert dev["last_status"] == "online" and dev["firmware"] == "1.2.3"
        assert dev["last_telemetry"]["signal_dbm"] == -71
        assert dev["last_telemetry"]["outbox_depth"] == 2
        assert api.get("/api/devices/nope").status_code == 404
    unit.stop()


def test_retained_status_is_read_at_start(broker, tmp_path, start_gateway, db_url):
    """A (re)started gateway learns which units are online from the retained
    status. (MQTT 5 sends no retained messages on shared subscriptions;
    Mosquitto 2.0 does anyway, so this passes either way here: the unshared
    status subscription is for brokers that follow the spec.)"""
    from gateway.runtime import Gateway
    from gateway.store import devices
    from protocol.fleet import Status

    cfg = site_config(tmp_path, broker, db_url=db_url)
    g0 = Gateway(cfg, mqtt=False, http=False)
    g0.build()
    register(g0.db, "box-r")
    g0.db.dispose()
    unit = TestClient(broker, "box-r").start()
    unit.publish(device_topic("box-r", DeviceTopic.STATUS),
                 encode(Status(device="box-r", state="online", firmware="2.0.0")), retain=True)
    unit.stop()
    gw = start_gateway(site_config(tmp_path, broker, db_url=db_url))

    def status():
        with gw.db.session() as s:
            return devices.get(s, "box-r").last_status

    assert wait_for(status) == "online"


def test_a_message_that_breaks_the_code_does_not_stop_the_ingest(broker, tmp_path, start_gateway,
                                                                monkeypatch, db_url):
    """Fault injection: storing one particular incident raises (as a bug
    would). It is rejected as internal_error; the others in its batch and
    after it are stored and acked."""
    from gateway.intake import Intake

    real = Intake._store_incidents

    def buggy(self, s, msgs, *a, **kw):
        if any(m.description == "poison" for m in msgs):
            raise RuntimeError("injected bug")
        return real(self, s, msgs, *a, **kw)

    monkeypatch.setattr(Intake, "_store_incidents", buggy)
    gw = start_gateway(site_config(tmp_path, broker, db_url=db_url))
    register(gw.db, "box-p")
    unit = TestClient(broker, "box-p").start()
    unit.subscribe(device_topic("box-p", DeviceTopic.ACK))
    good1, bad, good2 = incident("box-p", 1), incident("box-p", 2, description="poison"), incident("box-p", 3)
    for m in (good1, bad, good2):
        unit.publish(device_topic("box-p", DeviceTopic.INCIDENT), encode(m))
    stored, rejected = [], []
    while len(stored) < 2 or not rejected:
        ack = decode(Ack, unit.get(timeout=15).payload)
        stored += ack.stored
        rejected += ack.rejected
    assert sorted(i.id for i in stored) == sorted([good1.id, good2.id])
    assert [(r.id, r.reason) for r in rejected] == [(bad.id, "internal_error")]
    wait_for(lambda: counter(gw, "internal_error") == 1)
    later = incident("box-p", 4)
    unit.publish(device_topic("box-p", DeviceTopic.INCIDENT), encode(later))
    assert [i.id for i in decode(Ack, unit.get(timeout=15).payload).stored] == [later.id]
    unit.stop()

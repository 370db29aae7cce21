"""Issue 21 at the gateway, through the real broker: hostile payloads are
rejected and counted while valid ones go on being stored and acked; a dead
ingest worker is not hidden (issue 11: an id-less incident is no case)."""

from __future__ import annotations

import json
import time

import pytest

from protocol.codec import decode, encode
from protocol.reports import Ack
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import api_client, incident, make_user, register, site_config, wait_for
from tests.support import hostile
from tests.support.mqtt import TestClient


def ack_of(unit: TestClient, timeout: float = 15.0) -> Ack:
    return decode(Ack, unit.get(timeout=timeout).payload)


@pytest.mark.parametrize("kind", [DeviceTopic.INCIDENT, DeviceTopic.TELEMETRY])
def test_hostile_batch_then_a_valid_incident_is_stored_and_acked(broker, tmp_path, start_gateway, kind):
    gw = start_gateway(site_config(tmp_path, broker))
    register(gw.db, "box-h")
    unit = TestClient(broker, "box-h").start()
    unit.subscribe(device_topic("box-h", DeviceTopic.ACK))
    bad = hostile.payloads(kind, "box-h")
    qos = 1 if kind is DeviceTopic.INCIDENT else 0
    for payload, _ in bad:
        unit.publish(device_topic("box-h", kind), payload, qos=qos)
    expected: dict[str, int] = {}
    for _, reason in bad:
        expected[reason] = expected.get(reason, 0) + 1
    wait_for(lambda: all(gw.metrics.rejected_count(r) >= n for r, n in expected.items()))
    assert {r: gw.metrics.rejected_count(r) for r in expected} == expected
    assert gw.metrics.rejected_count("internal_error") == 0
    assert gw.metrics.rejected_count("undecodable") == 0
    if kind is DeviceTopic.INCIDENT:  # the unit is told why, for each one
        rejected = []
        while len(rejected) < len(bad):
            rejected += ack_of(unit).rejected
        assert sorted(r.reason for r in rejected) == sorted(reason for _, reason in bad)

    good = incident("box-h", seq=99)
    sent = time.monotonic()
    unit.publish(device_topic("box-h", DeviceTopic.INCIDENT), encode(good))
    ack = ack_of(unit)
    latency = time.monotonic() - sent
    assert [i.id for i in ack.stored] == [good.id]
    print(f"valid incident after {len(bad)} hostile {kind.value} payloads acked in {latency * 1000:.0f} ms")
    assert gw.alive()

    tok = make_user(gw.db, "op", "operator")
    with api_client(gw.url, tok) as api:
        assert [i["id"] for i in api.get("/api/incidents").json()["items"]] == [good.id]
        assert api.get("/api/devices/box-h").json()["last_telemetry"] is None  # no hostile telemetry
        assert api.get("/readyz").status_code == 200
    unit.stop()


def test_an_id_less_incident_sent_three_times_is_three_rejections_and_no_case(broker, tmp_path,
                                                                              start_gateway):
    """Issue 11, item 2: a client written by hand from docs/protocol.md."""
    gw = start_gateway(site_config(tmp_path, broker))
    register(gw.db, "box-n")
    unit = TestClient(broker, "box-n").start()
    unit.subscribe(device_topic("box-n", DeviceTopic.ACK))
    payload = json.dumps({"v": 1, "device": "box-n", "seq": 5, "category": "fire",
                          "source": "field_button"}).encode()
    for _ in range(3):
        unit.publish("siaga/v1/dev/box-n/incident", payload)
    rejected = []
    while len(rejected) < 3:
        ack = ack_of(unit)
        assert ack.stored == []
        rejected += ack.rejected
    assert [(r.id, r.reason) for r in rejected] == [(None, "missing_id")] * 3
    wait_for(lambda: gw.metrics.rejected_count("missing_id") == 3)
    tok = make_user(gw.db, "op", "operator")
    with api_client(gw.url, tok) as api:
        assert api.get("/api/incidents").json()["items"] == []


def test_a_dead_ingest_worker_turns_readyz_503(broker, tmp_path, start_gateway, monkeypatch):
    """Fault injection: sending the acks raises (a bug outside the per-message
    safety net). The worker dies, and says so."""
    from gateway.ingest import MqttIngest

    real = MqttIngest._send_acks

    def buggy(self, result):
        if any(i.seq == 666 for a in result.acks.values() for i in a.stored):
            raise RuntimeError("injected bug")
        return real(self, result)

    monkeypatch.setattr(MqttIngest, "_send_acks", buggy)
    gw = start_gateway(site_config(tmp_path, broker))
    register(gw.db, "box-d")
    with api_client(gw.url) as api:
        assert api.get("/readyz").status_code == 200
        unit = TestClient(broker, "box-d").start()
        unit.publish(device_topic("box-d", DeviceTopic.INCIDENT), encode(incident("box-d", seq=666)))
        wait_for(lambda: not gw.alive())
        r = api.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["workers"] is False
        unit.stop()


def test_dead_letters_are_listed_for_admins_only(broker, tmp_path, start_gateway, monkeypatch):
    """A message that breaks the code is kept for a human and counted."""
    from gateway.intake import Intake

    real = Intake._store_incidents

    def buggy(self, s, msgs, *a, **kw):
        if any(m.description == "breaks the code" for m in msgs):
            raise RuntimeError("injected bug")
        return real(self, s, msgs, *a, **kw)

    monkeypatch.setattr(Intake, "_store_incidents", buggy)
    gw = start_gateway(site_config(tmp_path, broker))
    register(gw.db, "box-q")
    unit = TestClient(broker, "box-q").start()
    bad = incident("box-q", description="breaks the code")
    unit.publish(device_topic("box-q", DeviceTopic.INCIDENT), encode(bad))
    wait_for(lambda: gw.metrics.rejected_count("internal_error") == 1)
    admin, op = make_user(gw.db, "adm", "admin"), make_user(gw.db, "op", "operator")
    with api_client(gw.url, op) as api:
        assert api.get("/api/ingest/dead-letters").status_code == 403
    with api_client(gw.url, admin) as api:
        rows = api.get("/api/ingest/dead-letters").json()
        assert [(r["reason"], r["device_id"], r["topic"]) for r in rows] == [
            ("internal_error", "box-q", "siaga/v1/dev/box-q/incident")]
        assert json.loads(rows[0]["payload_text"])["id"] == bad.id
        metrics = api.get("/metrics").text
    assert 'siaga_gateway_ingest_dead_letters_total{reason="internal_error"} 1.0' in metrics
    unit.stop()

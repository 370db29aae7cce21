"""Two instances on one broker and one database share the load, and a
production gateway runs on the secured broker as user ``gateway``."""

from __future__ import annotations

import json

from gateway.config.models import Mode
from protocol.codec import decode, encode
from protocol.reports import Ack
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import (
    api_client,
    incident,
    make_user,
    register,
    site_config,
    wait_for,
)
from tests.support.mqtt import TestClient


def test_two_instances_share_the_load_without_doubling(broker, tmp_path, opd_server, start_gateway,
                                                       db_url):
    hooks = {"damkar": opd_server.url}
    a = start_gateway(site_config(tmp_path, broker, hooks=hooks, instance="gw-a", db_url=db_url))
    b = start_gateway(site_config(tmp_path, broker, hooks=hooks, instance="gw-b", db_url=db_url))
    devices = [f"box-{i:02d}" for i in range(5)]
    register(a.db, *devices)
    units = []
    msgs = []
    for d in devices:
        u = TestClient(broker, d).start()
        u.subscribe(device_topic(d, DeviceTopic.ACK))
        units.append(u)
        for seq in range(12):
            m = incident(d, seq)
            msgs.append(m)
            u.publish(device_topic(d, DeviceTopic.INCIDENT), encode(m))
            u.publish(device_topic(d, DeviceTopic.INCIDENT), encode(m))  # a re-delivery too
    # every message acked to its unit (stored or duplicate) before reading the
    # counters: Mosquitto's shared subscription is a strict round robin, so with
    # each message sent twice in a row one instance may get every original and
    # the other every re-delivery, and the OPD's hits can all be in while the
    # second one is still at its first batch (the flake seen as stored [60, 0])
    for u, d in zip(units, devices, strict=True):
        items = acked_items(u, 24, timeout=30)
        assert sum(1 for i in items if not i.duplicate) <= 24
        assert {i.id for i in items} == {m.id for m in msgs if m.device == d}
        u.stop()
    wait_for(lambda: len(opd_server.hits) >= len(msgs), timeout=30)
    tok = make_user(a.db, "sup", "supervisor")
    with api_client(b.url, tok) as api:
        stored, cursor = [], None
        while True:
            page = api.get("/api/incidents", params={"limit": 500} | ({"cursor": cursor} if cursor else {}))
            stored += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
    assert sorted(i["id"] for i in stored) == sorted(m.id for m in msgs)  # once each
    assert len({i["case_no"] for i in stored}) == len(msgs)
    delivered = [json.loads(h.body)["incident_id"] for h in opd_server.hits]
    assert sorted(delivered) == sorted(m.id for m in msgs)  # each dispatched exactly once
    stored = [gw.metrics.stored.labels(kind="incident")._value.get() for gw in (a, b)]
    dups = [gw.metrics.duplicates.labels(kind="incident")._value.get() for gw in (a, b)]
    # both took a share (round robin may give one all originals, the other all re-deliveries)
    assert all(s + d > 0 for s, d in zip(stored, dups, strict=True)), (stored, dups)
    assert sum(stored) == len(msgs) and sum(dups) == len(msgs)  # new records only in stored_total


def test_production_gateway_on_secured_broker(secure_broker, tmp_path, start_gateway):
    secure_broker.add_user("box-s1", "box-s1-password-123")
    secure_broker.reload()
    cfg = site_config(tmp_path, secure_broker, mode="production", username="gateway",
                      password="gateway-test-pw")
    assert cfg.mode is Mode.PRODUCTION
    gw = start_gateway(cfg)
    register(gw.db, "box-s1")
    unit = TestClient(secure_broker, "box-s1", username="box-s1", password="box-s1-password-123").start()
    unit.subscribe(device_topic("box-s1", DeviceTopic.ACK))
    m = incident("box-s1")
    unit.publish(device_topic("box-s1", DeviceTopic.INCIDENT), encode(m))
    ack = decode(Ack, unit.get(timeout=15).payload)
    assert [i.id for i in ack.stored] == [m.id]
    unit.stop()


def test_messages_sent_while_the_gateway_is_down_arrive_after_restart(broker, tmp_path, start_gateway,
                                                                      db_url):
    """The gateway's persistent MQTT session keeps its share of the queue."""
    cfg = site_config(tmp_path, broker, db_url=db_url)
    gw = start_gateway(cfg)
    register(gw.db, "box-01")
    gw.stop()
    unit, msgs = publish_incidents(broker, "box-01", 5)
    start_gateway(site_config(tmp_path, broker, db_url=db_url))
    assert [i.id for i in acked_items(unit, 5, timeout=15)] == [m.id for m in msgs]
    unit.stop()


def publish_incidents(broker, device: str, n: int) -> tuple[TestClient, list]:
    """A unit listening to its acks that has published ``n`` incidents (and never re-sends)."""
    unit = TestClient(broker, device).start()
    unit.subscribe(device_topic(device, DeviceTopic.ACK))
    msgs = [incident(device, i) for i in range(n)]
    for m in msgs:
        unit.publish(device_topic(device, DeviceTopic.INCIDENT), encode(m))
    return unit, msgs


def acked_items(unit: TestClient, n: int, timeout: float) -> list:
    items: list = []
    while len(items) < n:
        items += decode(Ack, unit.get(timeout=timeout).payload).stored
    return items


def test_a_cleanly_stopped_instance_leaves_nothing_in_its_session(broker, tmp_path, start_gateway, db_url):
    """Stopping one of two instances (an upgrade) sends its will: the other
    takes its session over and ends it, so nothing waits there for a unit's
    re-send (which this test's unit never does)."""
    a = start_gateway(site_config(tmp_path, broker, db_url=db_url, instance="gw-a"))
    b = start_gateway(site_config(tmp_path, broker, db_url=db_url, instance="gw-b"))
    register(a.db, "box-01")
    b.stop()
    unit, msgs = publish_incidents(broker, "box-01", 20)
    items = acked_items(unit, len(msgs), timeout=8)  # well within b's 10 s session
    assert sorted(i.id for i in items) == sorted(m.id for m in msgs)
    done = wait_for(lambda: a.ingest.peers.done)
    assert [(d.peer, d.result) for d in done] == [(b.ingest.client_id, "ended")]
    unit.stop()

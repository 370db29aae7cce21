"""A web process (``siaga gateway --web-only``) beside the intake process on
one database and broker: the consoles on the web process are pushed the
cases the intake stores, its shared lists are not stale, and what operators
do there is delivered by the intake's dispatcher at once."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config.loader import parse_config
from gateway.event_feed import decode, events_topic
from protocol.codec import encode
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import incident, make_user, register, site_yaml, wait_for
from tests.support.mqtt import TestClient

#: the intake's dispatcher would otherwise look for work only every 30 s
SLOW_POLL = "max_attempts: 3, backoff_initial_s: 0.2, backoff_max_s: 0.5, poll_s: 30"


def _config(tmp_path, broker, opd_server, db_url, instance, *, list_cache_s=1.0):
    text = site_yaml(tmp_path, broker, hooks={"damkar": opd_server.url}, instance=instance,
                     db_url=db_url, dispatch=SLOW_POLL)
    text = text.replace("  role_check_s: 0.2", f"  role_check_s: 0.2\n  list_cache_s: {list_cache_s}")
    return parse_config(text, filename=f"{instance}.yaml")


def _follow(url: str, token: str, seen: list[str], ready: threading.Event, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c, \
            c.stream("GET", "/api/events") as r:
        for line in r.iter_lines():
            if line.startswith("event: hello"):
                ready.set()
            if line.startswith("data:") and ready.is_set():
                seen.append(line[5:].strip())
            if stop.is_set():
                return


def test_web_process_serves_what_the_intake_process_stores(broker, tmp_path, opd_server, start_gateway,
                                                         db_url):
    intake = start_gateway(_config(tmp_path, broker, opd_server, db_url, "gw-intake"))
    # a shared list lives 30 s here unless a write (here or elsewhere) comes first
    web = start_gateway(_config(tmp_path, broker, opd_server, db_url, "gw-web", list_cache_s=30),
                        web_only=True)
    assert web.ingest is None and web.dispatcher is None
    register(intake.db, "box-w1")
    token = make_user(intake.db, "op1", "operator")
    seen: list[str] = []
    ready, stop = threading.Event(), threading.Event()
    threading.Thread(target=_follow, args=(web.url, token, seen, ready, stop), daemon=True).start()
    assert ready.wait(20)
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        ready_body = api.get("/readyz").json()
        assert ready_body["roles"] == [] and ready_body["checks"]["events"] is True, ready_body
        assert api.get("/api/incidents").json()["items"] == []  # now shared for 30 s

        unit = TestClient(broker, "box-w1").start()
        msg = incident("box-w1", 1, category="other")  # not auto-dispatched: waits for an operator
        unit.publish(device_topic("box-w1", DeviceTopic.INCIDENT), encode(msg))
        wait_for(lambda: any(json.loads(s).get("id") == msg.id for s in seen), timeout=20)
        listed = api.get("/api/incidents").json()["items"]
        assert [i["id"] for i in listed] == [msg.id]  # not the shared empty list
        unit.stop()

        # the operator works on the web process; the intake process delivers
        assert api.post(f"/api/incidents/{msg.id}/transitions", json={"to": "triaged"}).status_code == 200
        t0 = time.monotonic()
        moved = api.post(f"/api/incidents/{msg.id}/transitions",
                         json={"to": "dispatched", "opds": ["damkar"]})
        assert moved.status_code == 200, moved.text
        wait_for(lambda: any(json.loads(h.body)["incident_id"] == msg.id for h in opd_server.hits),
                 timeout=20)
        assert time.monotonic() - t0 < 15  # woken through the feed, not by its 30 s poll
    stop.set()
    assert web.metrics.stored.labels(kind="incident")._value.get() == 0  # the web process stores nothing
    assert intake.metrics.stored.labels(kind="incident")._value.get() == 1
    assert web.feed is not None and web.feed.received >= 1  # the intake's news
    assert intake.feed is not None and intake.feed.received >= 1  # the operator's step
    assert web.feed.malformed == 0 and intake.feed.malformed == 0  # case, wake: both understood


@pytest.mark.parametrize("payload", [
    b"", b"\xff\xfe", b"[]", b"null", b'{"kind": "case"}', b'{"kind": "boom", "data": {}}',
    b'{"kind": "case", "data": []}', b"[" * 5000 + b"]" * 5000, b'{"kind": "case", "data": {"id": 1e999}}',
    b'{"kind": "case", "data": {"x": "' + b"a" * 5000 + b'"}}',
])
def test_a_malformed_gateway_event_is_counted_and_dropped(broker, tmp_path, opd_server, start_gateway,
                                                         payload):
    web = start_gateway(_config(tmp_path, broker, opd_server, None, "gw-web"), web_only=True)
    peer = TestClient(broker, "gw-peer").start()
    peer.publish(events_topic("gw-peer-events"), payload)
    peer.publish(events_topic("gw-peer-events"), b'{"kind": "case", "data": {"id": "01ABC"}}')
    assert web.feed is not None
    wait_for(lambda: web.feed.received >= 1, timeout=10)
    data = decode(payload)
    if data is None:
        wait_for(lambda: web.feed.malformed == 1, timeout=10)
    peer.stop()
    with httpx.Client(base_url=web.url, timeout=10) as c:
        assert c.get("/readyz").status_code == 200


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20).map(lambda v: json.dumps({"kind": "case", "data": v}).encode())))
def test_event_decoder_never_raises(payload):
    out = decode(payload)
    if out is not None:
        kind, data = out
        assert kind == "case" and all(isinstance(v, str | int | bool | type(None)) for v in data.values())

"""Damkar's escalation ladder fires level 1, 2 and 3 once each at their
delays (an injected clock), with two gateway instances on one database
(SQLite and PostgreSQL);
a case no operator triages in time is escalated once too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway import clock
from gateway.sla import check
from gateway.store.models import EscalationClaim
from protocol.codec import encode
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


class FakeClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    c = FakeClock()
    clock.set_source(c)
    try:
        yield c
    finally:
        clock.set_source(None)


def test_ladder_fires_each_level_once_across_two_instances(broker, tmp_path, start_gateway, fake_clock,
                                                           db_url):
    esc = OpdServer()
    try:
        ladder = (
            "    escalation:\n"
            "      - {after_min: 2, channel: log, contacts: [{name: Piket Damkar}]}\n"
            f"      - {{after_min: 5, channel: webhook, contacts: [{{name: Kepala Damkar}}],\n"
            f"         webhook: {{url: '{esc.url}', secret: {{value: '{WEBHOOK_SECRET}'}}}}}}\n"
            "      - {after_min: 10, channel: mqtt, contacts: [{name: Supervisor piket}]}")
        gws = [start_gateway(site_config(tmp_path, broker, opd_extra={"damkar": ladder}, db_url=db_url,
                                         instance=name)) for name in ("gw-a", "gw-b")]
        register(gws[0].db, "box-01")
        tok = make_user(gws[0].db, "sup", "supervisor")
        watcher = TestClient(broker, "opd-terminal").start()
        watcher.subscribe("siaga/v1/opd/damkar/escalation")
        unit = TestClient(broker, "box-01").start()
        msg = incident("box-01")
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))

        def levels(api) -> list[str]:
            tl = api.get(f"/api/incidents/{msg.id}").json()["timeline"]
            return [t["note"].split(" (")[0] for t in tl if t["event"] == "escalation"]

        with api_client(gws[1].url, tok) as api:
            wait_for(lambda: api.get(f"/api/incidents/{msg.id}").status_code == 200)
            assert levels(api) == []
            fake_clock.offset = timedelta(minutes=2, seconds=5)
            wait_for(lambda: levels(api) == ["level 1"])
            assert esc.hits == []
            fake_clock.offset = timedelta(minutes=5, seconds=5)
            wait_for(lambda: levels(api) == ["level 1", "level 2"])
            body = wait_for(lambda: esc.bodies() and esc.bodies()[0])
            assert (body["level"], body["opd"], body["kind"]) == (2, "damkar", "ack")
            assert body["contacts"] == [{"name": "Kepala Damkar"}]
            fake_clock.offset = timedelta(minutes=10, seconds=5)
            wait_for(lambda: levels(api) == ["level 1", "level 2", "level 3"])
            got = watcher.get(timeout=10)
            assert json.loads(got.payload)["level"] == 3
            # more passes on both instances fire nothing again
            for gw in gws:
                assert check(gw.db, gw.cfg, gw.metrics, gw.instance) == 0
            assert levels(api) == ["level 1", "level 2", "level 3"]
            assert len(esc.hits) == 1 and watcher.drain(0.5) == []
            notes = [t["note"] for t in api.get(f"/api/incidents/{msg.id}").json()["timeline"]
                     if t["event"] == "escalation"]
            assert "contacts: Kepala Damkar" in notes[1] and notes[2].startswith("level 3 (mqtt)")
        with gws[0].db.session() as s:
            claims = s.scalars(select(EscalationClaim)).all()
            assert len(claims) == 3 and {c.instance for c in claims} <= {gws[0].instance, gws[1].instance}
        unit.stop()
        watcher.stop()
    finally:
        esc.stop()


def test_untriaged_case_is_escalated_once(broker, tmp_path, start_gateway, fake_clock, db_url):
    gw = start_gateway(site_config(tmp_path, broker, extra="escalation: {triage_min: 3}", db_url=db_url))
    tok = make_user(gw.db, "op", "operator")
    with api_client(gw.url, tok) as api:
        case = api.post("/api/incidents", json={"category": "other", "caller": "+62811"}).json()["id"]
        fake_clock.offset = timedelta(minutes=3, seconds=5)
        esc = wait_for(lambda: [t for t in api.get(f"/api/incidents/{case}").json()["timeline"]
                                if t["event"] == "escalation"])
        assert esc[0]["note"] == "not triaged within 3 min"
        assert check(gw.db, gw.cfg, gw.metrics) == 0
        inc = api.get(f"/api/incidents/{case}").json()
        assert inc["escalated"] is True
        assert len([t for t in inc["timeline"] if t["event"] == "escalation"]) == 1

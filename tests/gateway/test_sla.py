"""SLA timers escalate once: flag, audit row, escalation webhook."""

from __future__ import annotations

import json

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


def test_no_acknowledgement_in_time_escalates_once(broker, tmp_path, opd_server, start_gateway, db_url):
    esc = OpdServer()
    try:
        extra = ("escalation:\n  contacts: [{name: Kadis Kominfo, phone: '+62351000200'}]\n"
                 f"  webhook: {{url: '{esc.url}', secret: {{value: '{WEBHOOK_SECRET}'}}}}\n")
        cfg = site_config(tmp_path, broker, db_url=db_url, hooks={"damkar": opd_server.url}, extra=extra,
                          sla="    fire: {ack_min: 0.005, resolve_min: 0.02}")  # 0.3 s and 1.2 s
        gw = start_gateway(cfg)
        register(gw.db, "box-01")
        tok = make_user(gw.db, "op", "operator")  # relays the OPD's phone acknowledgement
        sup = make_user(gw.db, "sup", "supervisor")  # reads the KPIs (operators do not)
        unit = TestClient(broker, "box-01").start()
        msg = incident("box-01")
        unit.publish(device_topic("box-01", DeviceTopic.INCIDENT), encode(msg))
        first = wait_for(lambda: next((b for b in esc.bodies() if b["kind"] == "ack"), None))
        assert first["kind"] == "ack" and first["incident_id"] == msg.id and first["opd"] == "damkar"
        assert first["contacts"] == [{"name": "Kadis Kominfo", "phone": "+62351000200"}]
        with api_client(gw.url, tok) as api:
            inc = api.get(f"/api/incidents/{msg.id}").json()
            assert inc["escalated"] is True and inc["assignments"][0]["ack_escalated_at"]
            # acknowledging late does not undo the escalation; resolution is still due
            r = api.post(f"/api/incidents/{msg.id}/transitions", json={"to": "acknowledged", "opd": "damkar"})
            assert r.status_code == 200
            wait_for(lambda: len(esc.hits) >= 2)
            # more SLA passes escalate nothing again
            from gateway.sla import check

            assert [check(gw.db, gw.cfg, gw.metrics) for _ in range(3)] == [0, 0, 0]
            wait_for(lambda: all(d["status"] == "delivered" for d in
                                 api.get("/api/deliveries").json()))
            kinds = [json.loads(h.body)["kind"] for h in esc.hits]
            assert sorted(kinds) == ["ack", "resolve"]
            timeline = api.get(f"/api/incidents/{msg.id}").json()["timeline"]
            escalations = [t for t in timeline if t["event"] == "escalation"]
            who = [(t["actor"], t["via"], t["opd"]) for t in escalations]
            assert who == [("system", "sla", "damkar")] * 2
            assert api.get("/api/kpis").status_code == 403  # a supervisor's, not an operator's
            with api_client(gw.url, sup) as sup_api:
                k = sup_api.get("/api/kpis").json()
            damkar = next(o for o in k["opds"] if o["opd"] == "damkar")
            assert damkar["escalations"] == 1 and damkar["ack_sla_compliance"] == 0.0
        unit.stop()
    finally:
        esc.stop()

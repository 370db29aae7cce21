"""Triage that cannot misfire: a typed report needs a place or a caller;
errors are Bahasa Indonesia sentences naming the field; over-long input is
refused, never cut, and never echoed back."""

from __future__ import annotations

import pytest

from tests.gateway.support import api_client, make_user, site_config


@pytest.fixture
def gw(broker, tmp_path, start_gateway):
    return start_gateway(site_config(tmp_path, broker), mqtt=False)


def test_empty_typed_report_is_refused_naming_the_field(gw):
    with api_client(gw.url, make_user(gw.db, "op", "operator")) as api:
        r = api.post("/api/incidents", json={"category": "fire"})
        assert r.status_code == 422
        (err,) = r.json()["detail"]
        assert err["loc"] == ["body", "location"] and err["type"] == "place_or_caller"
        assert err["msg"].startswith("Isi lokasi") and "nomor penelepon" in err["msg"]
        assert api.get("/api/incidents").json()["items"] == []  # nothing was created, nothing sent
        # a place alone, or a caller alone, is enough; a junk call needs neither
        assert api.post("/api/incidents", json={"category": "fire",
                                                "location": {"area": "Taman"}}).status_code == 201
        assert api.post("/api/incidents", json={"category": "fire", "caller": "+62811"}).status_code == 201
        assert api.post("/api/incidents", json={"category": "other",
                                                "call_type": "ghost"}).status_code == 201


def test_over_long_description_is_refused_not_cut_and_not_echoed(gw):
    with api_client(gw.url, make_user(gw.db, "op", "operator")) as api:
        r = api.post("/api/incidents", json={"category": "fire", "caller": "+62811",
                                             "description": "x" * 100_000})
        assert r.status_code == 422
        (err,) = r.json()["detail"]
        assert err["loc"] == ["body", "description"]
        assert err["msg"] == ("Keterangan terlalu panjang: paling banyak 2000 karakter. "
                              "/ description: at most 2000 characters.")
        assert len(r.content) < 1000  # the 100,000 characters are not sent back
        assert api.get("/api/incidents").json()["items"] == []

"""The province gateway's intake (gateway.province) on both engines, and its
config section. The whole shape (three brokers, city gateways, a province
gateway process) is tests/gateway/test_province_bridge.py."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.intake import Message
from gateway.metrics import Metrics
from gateway.province import ProvinceIntake, subscriptions
from gateway.store.db import Database
from gateway.store.models import Call, Incident, Outbox
from gateway.store.models_province import CityDevice
from protocol.codec import encode
from protocol.reports import CallEnd, CallRecord
from protocol.topics import city_prefix, parse_city_topic
from tests.gateway.support import api_client, incident, make_user, site_config

PROVINCE = """
mode: demo
site: {{name: Provinsi Uji, case_prefix: SU}}
gateway: {{database_url: "{db}"}}
opds:
  - {{id: damkar, name: Damkar Provinsi, channels: {{mqtt_terminal: true}}}}
routing:
  rules: [{{categories: [fire], opds: [damkar]}}]
  auto_dispatch: [{{categories: [fire], sources: [field_button]}}]
province:
  cities:
    - {{slug: kota-a, name: Kota A}}
    - {{slug: kota-b, name: Kota B}}{extra}
"""


def _cfg(db: str, extra: str = ""):
    return parse_config(PROVINCE.format(db=db, extra=extra), filename="province.yaml")


def _msg(city: str, kind: str, record) -> Message:
    return Message(f"{city_prefix(city)}dev/{record.device}/{kind}", encode(record))


def _call(device: str, seq: int) -> CallRecord:
    return CallRecord(device=device, seq=seq, direction="incoming", number="+6281234567", answer_s=2.0,
                      duration_s=10.0, end_reason=CallEnd.REMOTE_HANGUP, operator="sari")


@pytest.fixture
def province(db_url):
    db = Database(db_url)
    db.migrate()
    metrics = Metrics()
    yield ProvinceIntake(db, _cfg(db_url), metrics), db, metrics
    db.dispose()


def test_same_device_in_two_cities_is_two_units_each_case_once(province):
    intake, db, metrics = province
    a, b = incident("box-01", seq=1), incident("box-01", seq=1)
    call = _call("box-01", 7)
    batch = [_msg("kota-a", "incident", a), _msg("kota-b", "incident", b), _msg("kota-a", "call", call)]
    res = intake.process(batch)
    assert res.acks == {} and res.dispatches == 0  # the city acks and dispatches, never the province
    assert sorted(res.new_cases) == sorted([a.id, b.id])
    # the bridge's replay after a cut: the same records again, in a batch and alone
    again = intake.process([*batch, batch[0]])
    assert again.new_cases == [] and again.acks == {}
    with db.session() as s:
        rows = {i: (c, d, st) for i, c, d, st in s.execute(
            select(Incident.id, Incident.city, Incident.device_id, Incident.status))}
        assert rows == {a.id: ("kota-a", "box-01", "received"), b.id: ("kota-b", "box-01", "received")}
        assert s.execute(select(Call.id, Call.city)).all() == [(call.id, "kota-a")]
        units = {(u.city, u.device_id): (u.incidents, u.calls) for u in s.scalars(select(CityDevice))}
        assert units == {("kota-a", "box-01"): (1, 1), ("kota-b", "box-01"): (1, 0)}
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0  # its own rules would dispatch
        case_nos = set(s.scalars(select(Incident.case_no)))
        assert all(c.startswith("SU-") for c in case_nos) and len(case_nos) == 2
    assert metrics.duplicates.labels(kind="incident")._value.get() == 3
    assert metrics.duplicates.labels(kind="call")._value.get() == 1


def test_unknown_city_bad_topic_and_id_conflict_are_counted_not_stored(province, caplog):
    intake, db, metrics = province
    ok = incident("box-01", seq=1)
    intake.process([_msg("kota-a", "incident", ok)])
    stolen = ok.model_copy()  # the same id from another city: not the same case
    res = intake.process([
        _msg("kota-x", "incident", incident("box-01", seq=2)),
        _msg("kota-b", "incident", stolen),
        Message("siaga/v1/city/kota-a/dev/box-01", b"{}"),  # no kind
        Message("siaga/v1/city/kota-a/dev/box-01/status", b"{}"),  # not a case
        Message("siaga/v1/city/kota-a/dev/box-02/incident", b"not json"),
    ])
    assert res.new_cases == []
    assert metrics.rejected_count("unknown_city") == 1
    assert metrics.rejected_count("id_conflict") == 1
    assert metrics.rejected_count("not_a_case") == 1
    assert "unknown_city" in caplog.text and "kota-x" in caplog.text
    with db.session() as s:
        assert s.execute(select(Incident.id, Incident.city)).all() == [(ok.id, "kota-a")]
        assert ("kota-x", "box-01") not in {(u.city, u.device_id) for u in s.scalars(select(CityDevice))}


def test_dispatch_true_routes_the_cities_cases_by_the_provinces_rules(db_url):
    db = Database(db_url)
    db.migrate()
    try:
        intake = ProvinceIntake(db, _cfg(db_url, "\n  dispatch: true"), Metrics())
        res = intake.process([_msg("kota-b", "incident", incident("box-09"))])
        assert res.dispatches == 1
        with db.session() as s:
            assert s.scalar(select(Incident.status)) == "dispatched"
            assert s.scalar(select(Outbox.target)) == "damkar"
    finally:
        db.dispose()


def test_province_section_is_checked():
    assert subscriptions() == [("siaga/v1/city/+/dev/+/incident", 1),  # not $share: see province.py
                               ("siaga/v1/city/+/dev/+/call", 1)]
    assert parse_city_topic("siaga/v1/city/kota-a/dev/box-01/call") == ("kota-a", "siaga/v1/dev/box-01/call")
    with pytest.raises(ConfigError, match="duplicate slug"):
        parse_config(PROVINCE.format(db="sqlite://", extra="\n    - {slug: kota-a, name: Lagi}"))
    with pytest.raises(ConfigError, match="slug"):
        parse_config(PROVINCE.format(db="sqlite://", extra="\n    - {slug: Kota_C, name: C}"))
    with pytest.raises(ConfigError, match="color"):
        parse_config(PROVINCE.format(db="sqlite://", extra="\n  color: red"))
    city = parse_config(PROVINCE.split("province:")[0].format(db="sqlite://"))
    assert city.province is None and city.city_name("kota-a") is None
    assert _cfg("sqlite://").city_name("kota-b") == "Kota B"


def test_api_filters_by_city_and_refuses_steps_on_a_citys_case(db_url, start_gateway, tmp_path):
    cfg = parse_config(PROVINCE.format(db=db_url, extra="")
                       .replace("gateway: {", "gateway: {http: {host: 127.0.0.1, port: 0}, "))
    gw = start_gateway(cfg, mqtt=False)
    a, b = incident("box-01"), incident("box-01")
    intake = ProvinceIntake(gw.db, cfg, gw.metrics)
    intake.process([_msg("kota-a", "incident", a), _msg("kota-b", "incident", b)])
    with api_client(gw.url, make_user(gw.db, "op1", "operator")) as api:
        items = api.get("/api/incidents", params={"city": "kota-b"}).json()["items"]
        assert [(i["id"], i["city"], i["city_name"]) for i in items] == [(b.id, "kota-b", "Kota B")]
        assert {i["id"] for i in api.get("/api/incidents").json()["items"]} == {a.id, b.id}
        assert "kota-a" in api.get("/api/export/incidents.csv", params={"city": "kota-a"}).text
        r = api.post(f"/api/incidents/{a.id}/transitions", json={"to": "triaged"})
        assert r.status_code == 409 and "city handles it" in r.json()["detail"]
        assert api.post(f"/api/incidents/{a.id}/handoff", json={"note": "x"}).status_code == 409
        assert api.post(f"/api/incidents/{a.id}/merge", json={"into": b.id}).status_code == 409
        note = api.post(f"/api/incidents/{a.id}/notes", json={"text": "dicek provinsi"})
        assert note.status_code in (200, 201)  # a note is the province's own record
        assert api.get("/api/province").status_code == 403  # for supervisors, admins, mayors
    with api_client(gw.url, make_user(gw.db, "sup1", "supervisor")) as api:
        view = api.get("/api/province").json()
        assert [(c["slug"], c["incidents"], c["units"]) for c in view["cities"]] == \
            [("kota-a", 1, 1), ("kota-b", 1, 1)]
        assert view["dispatch"] is False


def test_a_city_gateway_has_no_province_endpoint(tmp_path, broker, start_gateway):
    gw = start_gateway(site_config(tmp_path, broker), mqtt=False)
    with api_client(gw.url, make_user(gw.db, "sup1", "supervisor")) as api:
        assert api.get("/api/province").status_code == 404
        assert api.get("/api/incidents", params={"city": "kota-a"}).json()["items"] == []

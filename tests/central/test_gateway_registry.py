"""The one registry is the gateway's `devices` table: `disable` makes the
broker AND the gateway refuse the unit (the gateway's intake accepts only
enabled devices)."""

from __future__ import annotations

import pytest

from gateway.fleet.errors import RegistryUnavailable
from gateway.fleet.registry import open_gateway_db
from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.store.db import Database as GatewayDatabase
from protocol.codec import encode
from protocol.fleet import Profile
from protocol.reports import Incident, Location, Source
from protocol.topics import DeviceTopic, device_topic
from tests.gateway.support import site_config
from tests.support.mqtt import TestClient


def test_unmigrated_gateway_db_is_refused(tmp_path, pg_databases):
    with pytest.raises(RegistryUnavailable, match="siaga gateway migrate"):
        open_gateway_db(f"sqlite:///{tmp_path / 'none.db'}")  # never created behind its back
    assert not (tmp_path / "none.db").exists()
    with pytest.raises(RegistryUnavailable, match="siaga gateway migrate"):
        open_gateway_db(pg_databases.new())  # an empty PostgreSQL database: not migrated


def test_disable_refused_at_broker_and_gateway(site, tmp_path):
    url = site.db_url
    registry, prov = site.registry, site.prov
    loc = Location(label="Jl. Pahlawan 12", area="Taman", lat=-7.6, lon=111.5)
    _dev, bundle = prov.add_device("box-g1", profile=Profile.FIELD, location=loc)
    assert registry.get("box-g1").location == loc
    pw = bundle.password.read_text().strip()

    cfg = site_config(tmp_path, site.broker, db_url=url)
    gdb = GatewayDatabase(url)
    metrics = Metrics()
    intake = Intake(gdb, cfg, metrics)

    def send(seq: int):
        inc = Incident(device="box-g1", seq=seq, category="fire", source=Source.FIELD_BUTTON)
        return intake.process([Message(device_topic("box-g1", DeviceTopic.INCIDENT), encode(inc))])

    assert send(1).acks["box-g1"].stored  # enabled: stored and acked
    ok = TestClient(site.broker, "box-g1", username="box-g1", password=pw)
    assert not ok.try_start().is_failure
    ok.stop()

    prov.disable("box-g1")
    res = send(2)
    assert "box-g1" not in res.acks or not res.acks["box-g1"].stored
    assert metrics.rejected_count("device_disabled") == 1
    refused = TestClient(site.broker, "box-g1b", username="box-g1", password=pw)
    assert refused.try_start().is_failure
    refused.stop()
    # the broker's password file follows the gateway's enabled flag
    assert "box-g1:" not in (site.settings.site_dir / "passwd").read_text()

    prov.enable("box-g1")
    assert send(3).acks["box-g1"].stored
    gdb.dispose()

"""Desired / reported configuration through a real broker."""

from __future__ import annotations

import pytest

from gateway.fleet.desired import ConfigService, merge_settings, parse_assignments
from gateway.fleet.errors import BadSetting
from gateway.fleet.link import Link
from tests.central.conftest import provision, wait_for
from tests.central.unit_double import UnitDouble


def test_parse_assignments_types_and_errors():
    got = parse_assignments(["volume=80", "centre=+62351123", "button.sos=medical", "log_level=DEBUG",
                             "self_test=06:30", "heartbeat=30"])
    assert got == {"volume": 80, "centre_number": "+62351123", "button_categories": {"sos": "medical"},
                   "log_level": "DEBUG", "self_test_daily_at": "06:30", "heartbeat_s": 30}
    with pytest.raises(BadSetting, match="unknown key 'colour'"):
        parse_assignments(["colour=red"])
    with pytest.raises(BadSetting, match="key=value"):
        parse_assignments(["volume"])
    with pytest.raises(BadSetting, match="bad value for volume"):
        merge_settings({}, parse_assignments(["volume=500"]))
    with pytest.raises(BadSetting, match=r"button_categories\.sos"):
        merge_settings({}, parse_assignments(["button.sos=nonsense"]))
    # removing a key
    s = merge_settings({"volume": 50, "heartbeat_s": 30}, parse_assignments(["volume="]))
    assert s.volume is None and s.heartbeat_s == 30


def test_versions_only_go_up_past_what_the_unit_reported(site):
    cfg = ConfigService(site.db)
    assert cfg.set("box-1", {"volume": 10}).version == 1
    assert cfg.set("box-1", {"volume": 20}).version == 2
    from protocol.fleet import ReportedConfig, UnitSettings

    # a unit restored from an old image reports a higher version than we know
    cfg.record_reported(ReportedConfig(device="box-1", version=7, settings=UnitSettings(volume=5)))
    doc = cfg.set("box-1", {"heartbeat_s": 30})
    assert doc.version == 8
    assert doc.settings.volume == 20 and doc.settings.heartbeat_s == 30


def test_online_unit_applies_and_reports_drift_clears(site, fleet):
    pw = provision(site, "box-1")
    unit = UnitDouble(site.broker, "box-1", pw).start()
    cfg = fleet.config
    cfg.set("box-1", {"volume": 70, "heartbeat_s": 30})
    assert cfg.drift("box-1").state == "unpublished"
    with Link(site.settings.broker).start() as link:
        cfg.publish(link, "box-1")
    assert wait_for(lambda: cfg.drift("box-1").state == "in_sync"), cfg.drift("box-1")
    assert unit.applied.settings.volume == 70
    assert cfg.reported("box-1").settings.heartbeat_s == 30
    unit.stop()


def test_offline_unit_gets_config_on_reconnect_and_bad_value_is_refused(site, fleet):
    pw = provision(site, "box-2")
    unit = UnitDouble(site.broker, "box-2", pw).start()
    unit.stop()
    cfg = fleet.config
    cfg.set("box-2", {"volume": 40})
    # the fleet service publishes what is unpublished on its next tick
    assert wait_for(lambda: cfg.drift("box-2").published)
    assert cfg.drift("box-2").state == "pending"
    unit2 = UnitDouble(site.broker, "box-2", pw).start()
    assert wait_for(lambda: cfg.drift("box-2").state == "in_sync"), cfg.drift("box-2")
    assert unit2.applied.settings.volume == 40

    # a value central cannot judge (a button this box does not have): the unit refuses it
    cfg.set("box-2", {"button_categories": {"fire_btn": "fire"}})
    assert wait_for(lambda: cfg.drift("box-2").state == "refused"), cfg.drift("box-2")
    d = cfg.drift("box-2")
    assert d.refused_version == 2 and d.reported_version == 1
    assert "fire_btn" in d.error
    unit2.stop()


def test_watch_republishes_desired_the_broker_lost(site):
    from gateway.fleet.notify import MemoryNotifier
    from gateway.fleet.service import FleetService
    from tests.support.mqtt import TestClient

    site.settings.health.tick_s = 0.1
    provision(site, "box-3")
    provision(site, "box-4")
    cfg = ConfigService(site.db)
    with Link(site.settings.broker).start() as link:
        cfg.set("box-3", {"volume": 10})
        cfg.publish(link, "box-3")
        cfg.set("box-4", {"volume": 20})
        cfg.publish(link, "box-4")
        # the broker loses box-3's retained document (cleared by hand, or a lost persistence file)
        link.publish("siaga/v1/dev/box-3/config/desired", b"", retain=True)
    svc = FleetService(site.db, site.registry, site.settings, notifier=MemoryNotifier(),
                       audit_after_s=0.5).start()
    try:
        assert wait_for(lambda: svc.counters["republished_desired"] == 1)
        watcher = TestClient(site.broker, "w", username="admin", password=site.admin_password).start()
        watcher.subscribe("siaga/v1/dev/+/config/desired")
        got = {m.topic: m.payload for m in watcher.drain(quiet=0.5)}
        watcher.stop()
        assert b'"version":1' in got["siaga/v1/dev/box-3/config/desired"]
        assert b'"volume":10' in got["siaga/v1/dev/box-3/config/desired"]
        assert svc.counters["republished_desired"] == 1  # box-4 was intact
    finally:
        svc.stop()

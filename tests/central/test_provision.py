"""Provisioning against a real Mosquitto running central's generated files."""

from __future__ import annotations

import stat

import pytest

from central.errors import DeviceRevoked
from firmware.agent.config import load_config
from gateway.fleet.errors import DeviceExists, UnknownDevice
from protocol.fleet import Profile
from protocol.reports import Location
from testkit.wait import until as wait_until
from tests.support.mqtt import TestClient


def unit_client(site, device: str, password: str, client_id: str | None = None) -> TestClient:
    return TestClient(site.broker, client_id or device, username=device, password=password)


def bundle_password(bundle) -> str:
    return bundle.password.read_text().strip()


def test_add_writes_bundle_hash_and_valid_unit_config(site):
    loc = Location(label="Jl. Pahlawan 12", area="Kartoharjo", lat=-7.63, lon=111.52)
    device, bundle = site.prov.add_device("box-1", profile=Profile.FIELD, location=loc,
                                          groups=["kartoharjo"])
    assert device.enabled and device.location == loc
    pw = bundle_password(bundle)
    assert len(pw) >= 24
    assert stat.S_IMODE(bundle.password.stat().st_mode) == 0o600
    cfg = load_config(bundle.config)  # the agent's own loader accepts it
    assert cfg.device_id == "box-1" and cfg.broker.username == "box-1"
    assert cfg.location == loc
    passwd = (site.settings.site_dir / "passwd").read_text()
    assert passwd.count("box-1:$7$") == 1
    assert pw not in passwd
    if site.db_url.startswith("sqlite"):  # only the hash is stored
        assert pw not in (site.tmp_path / "gateway.db").read_bytes().decode("latin-1")
    assert all(pw not in str(r) for r in site.db.query("SELECT * FROM fleet_credentials"))
    assert site.prov.groups_of("box-1") == ["kartoharjo"]
    with pytest.raises(DeviceExists):
        site.prov.add_device("box-1", profile=Profile.FIELD)
    with pytest.raises(ValueError, match="invalid device id"):
        site.prov.add_device("Box/1", profile=Profile.FIELD)


def test_unit_speaks_only_for_itself(site):
    _, b1 = site.prov.add_device("box-1", profile=Profile.FIELD)
    site.prov.add_device("box-2", profile=Profile.FIELD)
    admin = TestClient(site.broker, "admin-t", username="admin", password=site.admin_password).start()
    admin.subscribe("siaga/v1/#")
    u1 = unit_client(site, "box-1", bundle_password(b1)).start()

    # own branch, unit-direction topic: passes
    u1.publish("siaga/v1/dev/box-1/status", b"own")
    got = admin.get()
    assert (got.topic, got.payload) == ("siaga/v1/dev/box-1/status", b"own")

    # another unit's branch, and the wrong direction on its own branch: dropped by the broker
    u1.publish("siaga/v1/dev/box-2/status", b"spoof")
    u1.publish("siaga/v1/dev/box-2/incident", b"spoof")
    u1.publish("siaga/v1/dev/box-1/cmd", b"self-command")
    u1.publish("siaga/v1/dev/box-1/config/desired", b"self-config")
    u1.publish("siaga/v1/dev/box-1/status", b"marker")
    payloads = [m.payload for m in admin.drain(quiet=0.5)]
    assert payloads == [b"marker"]

    # subscribing under another unit's id delivers nothing: Mosquitto 2.0 grants the
    # SUBACK but checks the read ACL on every message it would deliver
    u1.subscribe("siaga/v1/dev/box-2/cmd")
    u1.subscribe("siaga/v1/dev/box-1/cmd")
    admin.publish("siaga/v1/dev/box-2/cmd", b"for-box-2")
    admin.publish("siaga/v1/dev/box-1/cmd", b"for-box-1")
    got = [m.payload for m in u1.drain(quiet=0.5)]
    assert got == [b"for-box-1"]
    u1.stop()
    admin.stop()


def test_wildcard_subscription_does_not_leak_other_units(site):
    _, b1 = site.prov.add_device("box-1", profile=Profile.FIELD)
    site.prov.add_device("box-2", profile=Profile.FIELD)
    admin = TestClient(site.broker, "admin-t", username="admin", password=site.admin_password).start()
    u1 = unit_client(site, "box-1", bundle_password(b1)).start()
    u1.subscribe("siaga/v1/#")
    u1.subscribe("siaga/v1/dev/+/cmd")
    admin.publish("siaga/v1/dev/box-2/cmd", b"for-box-2")
    admin.publish("siaga/v1/dev/box-2/ack", b"for-box-2")
    admin.publish("siaga/v1/dev/box-1/cmd", b"for-box-1")
    got = [(m.topic, m.payload) for m in u1.drain(quiet=0.5)]
    assert ("siaga/v1/dev/box-2/cmd", b"for-box-2") not in got
    assert ("siaga/v1/dev/box-2/ack", b"for-box-2") not in got
    assert ("siaga/v1/dev/box-1/cmd", b"for-box-1") in got
    u1.stop()
    admin.stop()


def test_disable_disconnects_and_refuses_enable_restores(site):
    _, b1 = site.prov.add_device("box-1", profile=Profile.FIELD)
    pw = bundle_password(b1)
    u1 = unit_client(site, "box-1", pw).start()
    did = site.prov.disable("box-1")
    assert did.startswith("SIGHUP pid")
    assert not site.registry.get("box-1").enabled
    assert wait_until(lambda: not u1.connected.is_set()), "live session survived disable"
    u1.client.loop_stop()
    again = unit_client(site, "box-1", pw, client_id="box-1b")
    assert again.try_start().is_failure
    again.stop()
    assert "box-1:" not in (site.settings.site_dir / "passwd").read_text()

    site.prov.enable("box-1")
    back = unit_client(site, "box-1", pw, client_id="box-1c")
    assert not back.try_start().is_failure
    back.stop()


def test_revoke_kills_credentials_until_rotate(site):
    _, b1 = site.prov.add_device("box-1", profile=Profile.FIELD)
    old = bundle_password(b1)
    site.prov.revoke("box-1")
    refused = unit_client(site, "box-1", old)
    assert refused.try_start().is_failure
    refused.stop()
    with pytest.raises(DeviceRevoked):
        site.prov.enable("box-1")
    new_bundle = site.prov.rotate("box-1")
    new = bundle_password(new_bundle)
    assert new != old
    ok = unit_client(site, "box-1", new, client_id="box-1n")
    assert not ok.try_start().is_failure
    ok.stop()
    stale = unit_client(site, "box-1", old, client_id="box-1o")
    assert stale.try_start().is_failure
    stale.stop()


def test_unknown_device_is_clear(site):
    with pytest.raises(UnknownDevice, match="unknown device: nope-1"):
        site.prov.disable("nope-1")


def test_service_user_has_its_access_and_units_cannot_take_service_names(site):
    site.prov.add_device("box-1", profile=Profile.FIELD)
    with pytest.raises(ValueError, match="is a device"):
        site.prov.add_service("box-1")
    acl = (site.settings.site_dir / "acl").read_text()
    assert "user gateway" in acl and "user admin" in acl
    gw = TestClient(site.broker, "gw", username="gateway", password=site.gateway_password)
    assert not gw.try_start().is_failure
    gw.stop()

"""`device add` provisions the unit's SMS key: derived from the site's SMS
master secret (which the gateway holds), written 0600 into the bundle, named
in the bundle's unit.yaml with the centre's numbers."""

from __future__ import annotations

import stat

from firmware.agent.config import load_config
from protocol import smsfallback as wire
from protocol.categories import Category
from protocol.fleet import Profile
from protocol.ids import new_id


def test_bundle_carries_the_units_own_sms_key(site, tmp_path):
    master = tmp_path / "sms-master"
    master.write_text("a-long-sms-master-secret-0123456789\n")
    site.prov.settings.sms.master_key_file = master
    site.prov.settings.sms.centre_numbers = ["+6281100000112"]
    _, bundle = site.prov.add_device("box-k1", profile=Profile.FIELD)
    _, other = site.prov.add_device("box-k2", profile=Profile.FIELD)
    key_file = bundle.dir / "sms.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = bytes.fromhex(key_file.read_text().strip())
    assert key == wire.device_key(b"a-long-sms-master-secret-0123456789", "box-k1")
    assert key != bytes.fromhex((other.dir / "sms.key").read_text().strip())
    cfg = load_config(bundle.config)
    assert cfg.sms_fallback.numbers == ["+6281100000112"]
    assert str(cfg.sms_fallback.key_file) == "/etc/siaga/sms.key"
    # what the unit signs with its key, the gateway verifies from the master secret alone
    text = wire.encode(wire.FallbackSms("box-k1", new_id(), 3, Category.FIRE, False), key)
    assert wire.verify(text, wire.device_key(master.read_text().strip().encode(), "box-k1")).seq == 3


def test_no_master_secret_no_sms_key(site):
    _, bundle = site.prov.add_device("box-k3", profile=Profile.FIELD)
    assert not (bundle.dir / "sms.key").exists()
    assert load_config(bundle.config).sms_fallback.numbers == []

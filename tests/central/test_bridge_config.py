"""`siaga admin broker gen-config` with a province bridge (central.yaml
``mosquitto.bridge``). The bridge itself runs in tests/gateway/test_province_bridge.py."""

from __future__ import annotations

import yaml

from central.broker.mosquitto import render_acl
from tests.central.conftest import migrated_db_url
from tests.central.test_cli import admin_inproc


def _site(tmp_path, **bridge):
    doc = {"gateway_db_url": migrated_db_url(tmp_path), "site_dir": "site", "bundle_dir": "bundles",
           "mosquitto": {"persistence_dir": "var", "pid_file": "var/mosquitto.pid", "run_as_user": None,
                         "bridge": {"city": "kota-madiun", "host": "broker.jatim.example",
                                    "username": "bridge-kota-madiun", "password_file": "bridge.pw",
                                    "ca_file": "province-ca.pem", **bridge}}}
    conf = tmp_path / "central.yaml"
    conf.write_text(yaml.safe_dump(doc))
    return conf


def test_gen_config_writes_the_bridge_with_its_password_not_world_readable(tmp_path):
    (tmp_path / "bridge.pw").write_text("s3cret-bridge-pw\n")
    r = admin_inproc(_site(tmp_path), "broker", "gen-config")
    assert r.returncode == 0, r.stderr
    conf = tmp_path / "site" / "mosquitto.conf"
    lines = conf.read_text().splitlines()
    for want in ("connection province-kota-madiun", "address broker.jatim.example:8883",
                 "remote_username bridge-kota-madiun", "remote_password s3cret-bridge-pw",
                 "cleansession false", "queue_qos0_messages false", "max_queued_messages 100000",
                 f"bridge_cafile {tmp_path / 'province-ca.pem'}", "bridge_insecure false",
                 "topic +/incident out 1 siaga/v1/dev/ siaga/v1/city/kota-madiun/dev/",
                 "topic +/call out 1 siaga/v1/dev/ siaga/v1/city/kota-madiun/dev/"):
        assert want in lines, want
    # only the cases go up, nothing comes down
    assert [ln for ln in lines if ln.startswith("topic ")] == [
        "topic +/incident out 1 siaga/v1/dev/ siaga/v1/city/kota-madiun/dev/",
        "topic +/call out 1 siaga/v1/dev/ siaga/v1/city/kota-madiun/dev/"]
    assert conf.stat().st_mode & 0o007 == 0


def test_a_bridge_without_its_password_or_ca_is_refused_clearly(tmp_path):
    r = admin_inproc(_site(tmp_path), "broker", "gen-config")
    assert r.returncode == 1 and "Gagal / Failed: cannot read bridge password file" in r.stderr
    (tmp_path / "bridge.pw").write_text("pw\n")
    r = admin_inproc(_site(tmp_path, ca_file=None), "broker", "gen-config")
    assert r.returncode == 1 and "bridge.ca_file is required" in r.stderr
    r = admin_inproc(_site(tmp_path, kinds=["ack"]), "broker", "gen-config")
    assert r.returncode == 1 and "only unit records go up, not ack" in r.stderr
    r = admin_inproc(_site(tmp_path, city="Kota/Madiun"), "broker", "gen-config")
    assert r.returncode != 0 and "mosquitto.bridge.city" in r.stderr


def test_a_city_bridge_user_may_write_only_its_own_branch():
    acl = render_acl(services={"bridge-kota-a": "city:kota-a", "gateway": "readwrite"})
    block = acl.split("user bridge-kota-a\n", 1)[1].split("\n\n", 1)[0]
    assert block.strip() == "topic write siaga/v1/city/kota-a/dev/#"

"""Every unit and drop-in in systemd/ passes the real ``systemd-analyze``.

A warning counts as a failure (systemd-analyze exits 0 on unknown keys);
``test_a_typo_is_caught`` shows that this check can fail.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.deploy.units import SYSTEMD_DIR, analyze, directives, verify
from tests.support.broker import find_mosquitto

UNITS = sorted(p.name for p in SYSTEMD_DIR.glob("*.service"))


def test_units_exist() -> None:
    assert UNITS == ["siaga-gateway-web.service", "siaga-gateway.service", "siaga-unit.service"]


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_is_clean(name: str, tmp_path: Path) -> None:
    res = verify((SYSTEMD_DIR / name).read_text(), name, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "" and res.stdout.strip() == ""


def test_a_typo_is_caught(tmp_path: Path) -> None:
    text = (SYSTEMD_DIR / "siaga-unit.service").read_text().replace("WatchdogSec=", "WatchDogSec=")
    res = verify(text, "siaga-unit.service", tmp_path)
    assert "Unknown key 'WatchDogSec'" in res.stderr


def test_a_missing_executable_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "siaga-unit.service"
    # the unit's interpreter is /usr/bin/python3 (always there): point it at one that is not
    text = (SYSTEMD_DIR / "siaga-unit.service").read_text()
    path.write_text(text.replace("ExecStart=/usr/bin/python3 ", "ExecStart=/opt/siaga/no-python "))
    res = subprocess.run([analyze(), "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "/opt/siaga/no-python" in res.stderr


@pytest.mark.parametrize("name", UNITS)
def test_hardening_exposure_is_low(name: str, tmp_path: Path) -> None:
    """Offline ``systemd-analyze security``: exposure <= 2.0 of 10 (1.5 / 1.3 when written)."""
    res = verify((SYSTEMD_DIR / name).read_text(), name, tmp_path)
    assert res.returncode == 0
    sec = subprocess.run([analyze(), "security", "--offline=yes", "--threshold=20", name],
                         capture_output=True, text=True, cwd=tmp_path / "units", timeout=60)
    assert sec.returncode == 0, sec.stdout[-2000:] + sec.stderr
    assert f"Overall exposure level for {name}" in sec.stdout


def test_unit_agent_contract() -> None:
    d = directives((SYSTEMD_DIR / "siaga-unit.service").read_text())
    assert d["Service.ExecStart"] == [
        "/usr/bin/python3 -I /opt/siaga/bootguard.py --state /var/lib/siaga/update "
        "--fallback /opt/siaga/venv -- -OO -X pycache_prefix=/var/lib/siaga/pycache "
        "-m firmware.agent --config /etc/siaga/unit.yaml"]
    assert d["Service.Type"] == ["notify"]
    assert d["Service.Restart"] == ["always"]
    assert int(d["Service.WatchdogSec"][0]) >= 10
    assert d["Unit.StartLimitIntervalSec"] == ["0"]
    assert d["Service.StateDirectory"] == ["siaga"]
    assert d["Service.LoadCredential"] == ["broker-password:/etc/siaga/broker.password"]
    assert d["Service.User"] == ["siaga"]
    assert set(d["Service.SupplementaryGroups"][0].split()) == {"gpio", "dialout"}
    allowed = {v.split()[0] for v in d["Service.DeviceAllow"]}
    assert {"/dev/gpiomem", "char-gpiochip", "char-ttyS", "char-ttyAMA"} <= allowed
    assert d["Service.DevicePolicy"] == ["closed"]
    # PrivateDevices=yes would hide /dev/gpiomem and the UART from the agent
    assert "Service.PrivateDevices" not in d
    assert d["Service.ProtectSystem"] == ["strict"]
    assert d["Install.WantedBy"] == ["multi-user.target"]


def test_gateway_contract() -> None:
    d = directives((SYSTEMD_DIR / "siaga-gateway.service").read_text())
    assert d["Service.ExecStart"] == ["/opt/siaga/venv/bin/siaga gateway --config /etc/siaga/site.yaml"]
    assert d["Service.Restart"] == ["always"]
    assert d["Service.StateDirectory"] == ["siaga-gateway"]
    assert "broker-password:/etc/siaga/gateway/broker.password" in d["Service.LoadCredential"]
    assert d["Service.PrivateDevices"] == ["yes"]


def _mosquitto_base(tmp: Path) -> Path:
    """A stand-in for Debian's mosquitto.service with the real broker binary."""
    unit_dir = tmp / "units"
    unit_dir.mkdir()
    (unit_dir / "mosquitto.service").write_text(
        "[Unit]\nDescription=Mosquitto MQTT Broker\n\n[Service]\nType=notify\nNotifyAccess=main\n"
        f"ExecStart={find_mosquitto()} -c /etc/mosquitto/mosquitto.conf\n"
        "ExecReload=/bin/kill -HUP $MAINPID\nRestart=on-failure\n\n"
        "[Install]\nWantedBy=multi-user.target\n")
    (unit_dir / "mosquitto.service.d").mkdir()
    return unit_dir


def _verify_with_dropin(unit_dir: Path, dropin: str) -> subprocess.CompletedProcess[str]:
    (unit_dir / "mosquitto.service.d" / "siaga.conf").write_text(dropin)
    env = {"SYSTEMD_UNIT_PATH": f"{unit_dir}:", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    return subprocess.run([analyze(), "verify", "mosquitto.service"], capture_output=True, text=True,
                          cwd=unit_dir, env=env, timeout=60)


def test_mosquitto_dropin_verifies_clean(tmp_path: Path) -> None:
    unit_dir = _mosquitto_base(tmp_path)
    dropin = (SYSTEMD_DIR / "mosquitto.service.d" / "siaga.conf").read_text()
    res = _verify_with_dropin(unit_dir, dropin)
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    # and the drop-in really is read: a typo in it is reported against its path
    res = _verify_with_dropin(unit_dir, dropin.replace("LimitNOFILE", "LimitNOFILES"))
    assert "mosquitto.service.d/siaga.conf" in res.stderr and "LimitNOFILES" in res.stderr


def test_manager_and_journald_dropins_are_well_formed() -> None:
    wd = directives((SYSTEMD_DIR / "system.conf.d" / "siaga-watchdog.conf").read_text())
    assert wd["Manager.RuntimeWatchdogSec"] == ["14s"]  # bcm2835_wdt tops out near 15 s
    j = directives((SYSTEMD_DIR / "journald.conf.d" / "siaga-sdcard.conf").read_text())
    assert j["Journal.Storage"] == ["volatile"]


"""Config loading: clear errors naming the key; the CLI's --check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmware.agent.config import ConfigError, UnitConfig, load_config
from firmware.pins import DEFAULT_PINS

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "units").glob("*.yaml"))


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "unit.yaml"
    p.write_text(text)
    return p


def test_minimal_field_config_takes_pin_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, "device_id: box-001\nprofile: field\n"))
    assert cfg.pin_map() == dict(DEFAULT_PINS["field"])
    assert cfg.category_map() == {"medical": "medical", "fire": "fire", "security": "security_disturbance"}
    assert cfg.broker.host == "127.0.0.1" and cfg.modem.url is None


@pytest.mark.parametrize(("text", "needle"), [
    ("device_id: box-001\nprofile: field\ncolour: red\n", "colour"),
    ("device_id: box-001\nprofile: field\ntimings: {bounce: 1}\n", "timings.bounce"),
    ("device_id: box-001\nprofile: field\nbroker: {hots: x}\n", "broker.hots"),
    ("device_id: Box 1\nprofile: field\n", "device_id"),
    ("device_id: box-001\nprofile: kiosk\n", "profile"),
    ("device_id: box-001\nprofile: field\npins: {button_fire: 14}\n", "reserved"),
    ("device_id: box-001\nprofile: field\npins: {button_fire: 17}\n", "already used"),
    ("device_id: box-001\nprofile: field\npins: {laser: 26}\n", "unknown pin role"),
    ("device_id: box-001\nprofile: field\nbuttons: {sos: medical}\n", "buttons.sos"),
    ("device_id: box-001\nprofile: field\nbuttons: {fire: arson}\n", "buttons.fire"),
    ("device_id: box-001\nprofile: field\nself_test_daily_at: '25:00'\n", "self_test_daily_at"),
    ("- just\n- a list\n", "mapping"),
    ("device_id: [unclosed\n", "YAML"),
])
def test_bad_config_names_the_key(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    assert needle in str(exc.value)


def test_single_sos_button_site(tmp_path):
    cfg = load_config(_write(tmp_path, (
        "device_id: box-002\nprofile: field\n"
        "pins: {button_medical: null, button_fire: null, button_security: null, button_sos: 17}\n"
        "buttons: {sos: other}\n")))
    assert cfg.button_names() == ["sos"] and cfg.category_map() == {"sos": "other"}


def test_panel_category_buttons(tmp_path):
    cfg = load_config(_write(tmp_path, "device_id: panel-01\nprofile: panel\n"))
    cats = cfg.category_map()
    assert "answer" not in cats and "hangup" not in cats
    assert cats["cat_medical"] == "medical" and cats["cat_prank"] == "prank"
    assert cats["cat_accident"] == "traffic_accident"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path):
    assert isinstance(load_config(path), UnitConfig)


def test_examples_exist():
    assert {p.name for p in EXAMPLES} >= {"field.yaml", "panel.yaml"}


def test_cli_check_reports_errors_in_both_languages(tmp_path):
    bad = _write(tmp_path, "device_id: box-001\nprofile: field\nhold: 3\n")
    out = subprocess.run([sys.executable, "-m", "siaga", "unit", "--config", str(bad), "--check"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2
    assert "Konfigurasi tidak valid / invalid config" in out.stderr and "hold" in out.stderr
    good = EXAMPLES[0]
    out = subprocess.run([sys.executable, "-m", "siaga", "unit", "--config", str(good), "--check"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and "config OK" in out.stdout


def test_sim_control_refused_without_mock_factory(tmp_path, monkeypatch, broker):
    from firmware.agent.simcontrol import SimControl, SimControlRefused

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")
    with pytest.raises(SimControlRefused):
        SimControl(tmp_path / "ctl.sock", None, None)  # type: ignore[arg-type]


def test_bare_password_file_names_a_systemd_credential(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "broker-password").write_text("s3cret-from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load_config(_write(tmp_path, (
        "device_id: box-001\nprofile: field\n"
        "broker: {username: box-001, password_file: broker-password}\n")))
    assert cfg.broker.resolve_password() == "s3cret-from-systemd"
    assert "s3cret" not in repr(cfg)

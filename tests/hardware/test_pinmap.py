"""The schematic's pin map against the firmware's default pins.

The "edits a copy" tests prove the checker can fail: each one changes one
thing in a temporary copy of pinmap.yaml (or of the firmware defaults) and
asserts the exact complaint.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from firmware.pins import DEFAULT_PINS, RESERVED_PINS
from hardware.pinmap import BCM_TO_HEADER, HEADER_POWER, PINMAP_PATH, PinMapError, check, load_pinmap

ROOT = Path(__file__).resolve().parents[2]


def _edited_copy(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(PINMAP_PATH.read_text())
    edit(data)
    out = tmp_path / "pinmap.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _pin(data: dict, board: str, role: str) -> dict:
    return next(p for p in data["boards"][board]["pins"] if p["role"] == role)


def _firmware_copy() -> dict[str, dict[str, int]]:
    return {profile: dict(roles) for profile, roles in DEFAULT_PINS.items()}


def test_repository_pinmap_matches_firmware_defaults() -> None:
    assert check(load_pinmap(), DEFAULT_PINS, RESERVED_PINS) == []


def test_header_table_is_a_bijection_onto_the_40_pins() -> None:
    physical = set(BCM_TO_HEADER.values()) | set(HEADER_POWER)
    assert physical == set(range(1, 41))
    assert len(set(BCM_TO_HEADER.values())) == len(BCM_TO_HEADER) == 28


def test_every_firmware_role_is_on_the_schematic_once() -> None:
    pm = load_pinmap()
    for profile, roles in DEFAULT_PINS.items():
        board = pm.boards[profile].by_role()
        assert {r: p.bcm for r, p in board.items()} == dict(roles)


def test_edited_copy_with_a_moved_button_fails(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, lambda d: _pin(d, "field", "button_fire").update(bcm=26, header=37))
    errors = check(load_pinmap(path), DEFAULT_PINS, RESERVED_PINS)
    assert errors == ["field.button_fire: pin map says GPIO26, firmware says GPIO27"]


def test_edited_firmware_defaults_fail() -> None:
    fw = _firmware_copy()
    fw["panel"]["led_ring"] = 21
    errors = check(load_pinmap(), fw, RESERVED_PINS)
    assert errors == ["panel.led_ring: pin map says GPIO23, firmware says GPIO21"]


def test_role_missing_on_either_side_fails(tmp_path: Path) -> None:
    fw = _firmware_copy()
    fw["field"]["siren"] = 26
    del fw["panel"]["buzzer"]
    errors = check(load_pinmap(), fw, RESERVED_PINS)
    assert "field.siren: in firmware DEFAULT_PINS but not in the pin map" in errors
    assert "panel.buzzer: in the pin map but not in firmware DEFAULT_PINS['panel']" in errors


def test_button_on_the_uart_fails_even_if_firmware_agrees(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, lambda d: _pin(d, "panel", "button_hangup").update(bcm=15, header=10))
    fw = _firmware_copy()
    fw["panel"]["button_hangup"] = 15
    errors = check(load_pinmap(path), fw, RESERVED_PINS)
    assert errors == ["panel.button_hangup: GPIO15 is a bus pin the design uses (uart PI_RXD)"]


def test_button_on_i2c_and_spi_pins_fails(tmp_path: Path) -> None:
    def edit(d: dict) -> None:
        _pin(d, "field", "button_medical").update(bcm=3, header=5)
        _pin(d, "field", "button_security").update(bcm=10, header=19)

    fw = _firmware_copy()
    fw["field"].update(button_medical=3, button_security=10)
    errors = check(load_pinmap(_edited_copy(tmp_path, edit)), fw, RESERVED_PINS)
    assert errors == [
        "field.button_medical: GPIO3 is a bus pin the design uses (i2c I2C_SCL)",
        "field.button_security: GPIO10 is reserved (SPI MOSI)",
    ]


def test_pin_used_twice_fails(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, lambda d: _pin(d, "field", "led_fault").update(bcm=24, header=18))
    fw = _firmware_copy()
    fw["field"]["led_fault"] = 24
    errors = check(load_pinmap(path), fw, RESERVED_PINS)
    assert errors == ["field.led_fault: GPIO24 already used by led_delivered"]


def test_pin_not_on_the_header_or_wrong_physical_pin_fails(tmp_path: Path) -> None:
    def edit(d: dict) -> None:
        _pin(d, "field", "battery_low").update(bcm=28)
        _pin(d, "field", "mains_ok").update(header=32)

    fw = _firmware_copy()
    fw["field"]["battery_low"] = 28
    errors = check(load_pinmap(_edited_copy(tmp_path, edit)), fw, RESERVED_PINS)
    assert errors == [
        "field.mains_ok: GPIO6 is header pin 31, not 32",
        "field.battery_low: GPIO28 is not on the 40-pin header (GPIO0-27 only)",
    ]


def test_id_eeprom_pins_and_wrong_direction_fail(tmp_path: Path) -> None:
    def edit(d: dict) -> None:
        _pin(d, "field", "door_tamper").update(bcm=0, header=27)
        _pin(d, "field", "buzzer").update(dir="in")

    fw = _firmware_copy()
    fw["field"]["door_tamper"] = 0
    errors = check(load_pinmap(_edited_copy(tmp_path, edit)), fw, RESERVED_PINS)
    assert errors == [
        "field.buzzer: a buzzer circuit must be an output",
        "field.door_tamper: GPIO0 is the HAT ID EEPROM bus",
    ]


def test_malformed_pinmap_is_rejected_naming_the_key(tmp_path: Path) -> None:
    path = _edited_copy(tmp_path, lambda d: _pin(d, "field", "buzzer").update(colour="red"))
    with pytest.raises(PinMapError, match="colour"):
        load_pinmap(path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("boards: [unclosed\n")
    with pytest.raises(PinMapError):
        load_pinmap(bad)


def test_cli_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "hardware.pinmap"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "pin map matches" in ok.stdout
    path = _edited_copy(tmp_path, lambda d: _pin(d, "panel", "led_fault").update(bcm=26, header=37))
    bad = subprocess.run([sys.executable, "-m", "hardware.pinmap", str(path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "MISMATCH: panel.led_fault: pin map says GPIO26, firmware says GPIO25" in bad.stderr

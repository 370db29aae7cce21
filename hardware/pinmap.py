"""Pin map of the two boards, and the check that it agrees with the firmware.

``hardware/schematics/pinmap.yaml`` is the schematic's side (the SKiDL
sources build their header nets from it); ``firmware/pins.py`` is the
firmware's side. They are written by different people at different times,
so :func:`check` compares them and lists every disagreement, and also checks
the electrical rules no edit may break: a pin used once, no button on a bus
pin the design uses, only GPIOs that exist on the 40-pin header, and the
header pin number matching the BCM number.

Run ``python -m hardware.pinmap [PINMAP]`` for a human-readable verdict.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PINMAP_PATH = Path(__file__).parent / "schematics" / "pinmap.yaml"

#: BCM GPIO -> physical pin on the 40-pin header (Pi 3, Pi 4, Zero 2 W alike).
BCM_TO_HEADER: Mapping[int, int] = {
    0: 27, 1: 28, 2: 3, 3: 5, 4: 7, 5: 29, 6: 31, 7: 26, 8: 24, 9: 21, 10: 19,
    11: 23, 12: 32, 13: 33, 14: 8, 15: 10, 16: 36, 17: 11, 18: 12, 19: 35,
    20: 38, 21: 40, 22: 15, 23: 16, 24: 18, 25: 22, 26: 37, 27: 13,
}
#: physical pins that are not GPIOs
HEADER_POWER: Mapping[int, str] = {
    1: "3V3", 17: "3V3", 2: "5V", 4: "5V",
    **{p: "GND" for p in (6, 9, 14, 20, 25, 30, 34, 39)},
}
#: GPIO0/1 carry the HAT ID EEPROM bus; the firmware boots reading them.
ID_EEPROM_PINS = frozenset({0, 1})


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Pull(StrEnum):
    UP = "up"
    DOWN = "down"
    NONE = "none"


class Level(StrEnum):
    LOW = "low"
    HIGH = "high"


class Circuit(StrEnum):
    """The conditioning block the schematic draws behind a pin."""

    BUTTON = "button"
    LED = "led"
    BUZZER = "buzzer"
    MODEM_RESET = "modem_reset"
    UPS_SIGNAL = "ups_signal"
    LOAD_SENSE = "load_sense"  # comparator on the LED/buzzer return current (self-test feedback)


_INPUT_CIRCUITS = (Circuit.BUTTON, Circuit.UPS_SIGNAL, Circuit.LOAD_SENSE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusPin(_Model):
    bcm: int = Field(title="BCM GPIO", ge=0)
    header: int = Field(title="Physical header pin", ge=1, le=40)
    net: str = Field(title="Net name", min_length=1)
    note: str = Field(default="", title="Note")


class PinEntry(_Model):
    bcm: int = Field(title="BCM GPIO", description="Broadcom GPIO number", ge=0)
    header: int = Field(title="Physical header pin", description="1-40 on the 2x20 header", ge=1, le=40)
    role: str = Field(title="Firmware role", description="key in firmware.pins.DEFAULT_PINS[profile]")
    dir: Direction = Field(title="Direction", description="in or out, seen from the Pi")
    pull: Pull = Field(title="Pull", description="resistor the board fits (up/down/none)")
    active: Level = Field(title="Active level", description="level meaning pressed/on/asserted")
    net: str = Field(title="Net name", description="net name in the KiCad netlist", min_length=1)
    circuit: Circuit = Field(title="Circuit", description="conditioning block behind the pin")
    note: str = Field(default="", title="Note")


class Board(_Model):
    description: str = Field(default="", title="Description")
    pins: list[PinEntry] = Field(title="Pins", description="every GPIO this board uses")

    def by_role(self) -> dict[str, PinEntry]:
        return {p.role: p for p in self.pins}


class PinMap(_Model):
    version: int = Field(title="Format version", ge=1, le=1)
    buses: dict[str, list[BusPin]] = Field(
        default_factory=dict, title="Buses", description="bus name -> pins the design uses for it")
    boards: dict[str, Board] = Field(title="Boards", description="firmware profile -> board")

    def bus_pins(self) -> dict[int, str]:
        """BCM pin -> 'bus NET' for every bus pin the design uses."""
        return {p.bcm: f"{name} {p.net}" for name, pins in self.buses.items() for p in pins}


class PinMapError(ValueError):
    """The pin map file cannot be read or does not match the schema."""


def load_pinmap(path: Path = PINMAP_PATH) -> PinMap:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PinMapError(f"{path}: {exc}") from exc
    try:
        return PinMap.model_validate(data)
    except ValidationError as exc:
        raise PinMapError(f"{path}: {exc}") from exc


def _check_pin(where: str, bcm: int, header: int, errors: list[str]) -> None:
    if bcm not in BCM_TO_HEADER:
        errors.append(f"{where}: GPIO{bcm} is not on the 40-pin header (GPIO0-27 only)")
    elif BCM_TO_HEADER[bcm] != header:
        errors.append(f"{where}: GPIO{bcm} is header pin {BCM_TO_HEADER[bcm]}, not {header}")


def check(
    pinmap: PinMap,
    default_pins: Mapping[str, Mapping[str, int]],
    reserved_pins: Mapping[int, str],
) -> list[str]:
    """Every disagreement between the pin map and the firmware, and every
    electrical rule the pin map breaks. Empty list: they agree."""
    errors: list[str] = []
    bus = pinmap.bus_pins()
    for name, pins in pinmap.buses.items():
        for p in pins:
            _check_pin(f"buses.{name}.{p.net}", p.bcm, p.header, errors)
    for bcm, what in bus.items():
        if bcm not in reserved_pins:
            errors.append(f"bus pin GPIO{bcm} ({what}) is not in firmware RESERVED_PINS")

    for profile in sorted(set(pinmap.boards) | set(default_pins)):
        board = pinmap.boards.get(profile)
        firmware = default_pins.get(profile)
        if board is None:
            errors.append(f"{profile}: in firmware DEFAULT_PINS but no board in the pin map")
            continue
        if firmware is None:
            errors.append(f"{profile}: board in the pin map but no firmware profile")
            continue
        seen_pin: dict[int, str] = {}
        seen_net: dict[str, str] = {}
        roles: set[str] = set()
        for p in board.pins:
            where = f"{profile}.{p.role}"
            if p.role in roles:
                errors.append(f"{where}: role listed twice")
            roles.add(p.role)
            _check_pin(where, p.bcm, p.header, errors)
            if p.bcm in seen_pin:
                errors.append(f"{where}: GPIO{p.bcm} already used by {seen_pin[p.bcm]}")
            seen_pin[p.bcm] = p.role
            if p.net in seen_net:
                errors.append(f"{where}: net {p.net} already used by {seen_net[p.net]}")
            seen_net[p.net] = p.role
            if p.bcm in bus:
                errors.append(f"{where}: GPIO{p.bcm} is a bus pin the design uses ({bus[p.bcm]})")
            elif p.bcm in reserved_pins:
                errors.append(f"{where}: GPIO{p.bcm} is reserved ({reserved_pins[p.bcm]})")
            if p.bcm in ID_EEPROM_PINS:
                errors.append(f"{where}: GPIO{p.bcm} is the HAT ID EEPROM bus")
            if p.circuit in _INPUT_CIRCUITS and p.dir is not Direction.IN:
                errors.append(f"{where}: a {p.circuit} circuit must be an input")
            if p.circuit in (Circuit.LED, Circuit.BUZZER, Circuit.MODEM_RESET) and p.dir is not Direction.OUT:
                errors.append(f"{where}: a {p.circuit} circuit must be an output")
            fw = firmware.get(p.role)
            if fw is None:
                errors.append(f"{where}: in the pin map but not in firmware DEFAULT_PINS['{profile}']")
            elif fw != p.bcm:
                errors.append(f"{where}: pin map says GPIO{p.bcm}, firmware says GPIO{fw}")
        for role in sorted(set(firmware) - roles):
            errors.append(f"{profile}.{role}: in firmware DEFAULT_PINS but not in the pin map")
    return errors


def main(argv: list[str] | None = None) -> int:
    """Print the verdict; exit 1 on any disagreement."""
    from firmware.pins import DEFAULT_PINS, RESERVED_PINS

    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else PINMAP_PATH
    try:
        errors = check(load_pinmap(path), DEFAULT_PINS, RESERVED_PINS)
    except PinMapError as exc:
        print(f"Peta pin tidak valid / invalid pin map: {exc}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"TIDAK COCOK / MISMATCH: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"Peta pin cocok dengan firmware / pin map matches the firmware: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

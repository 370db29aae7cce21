"""Check a board's KiCad netlist against the pin map.

The netlist is what a technician solders from (or KiCad lays out); the pin
map is what the firmware is checked against. This closes the loop: every
pin-map GPIO is on the header pin the map says, under the net name it says,
with the conditioning block its circuit type needs; bus and power pins are
where the Pi has them; every other header pin is left unconnected.
"""

from __future__ import annotations

import re

from hardware.pinmap import HEADER_POWER, Circuit, PinMap
from hardware.schematics.netlist import Netlist

HEADER_REF = "J1"
POWER_NETS = {"5V": "+5V", "3V3": "+3V3", "GND": "GND"}

#: value a part on the GPIO net must have, per circuit type (prefix, value)
EXPECTED_ON_GPIO: dict[Circuit, list[tuple[str, str]]] = {
    Circuit.BUTTON: [("R", "1k"), ("C", "100nF")],
    Circuit.LED: [("R", "1k")],
    Circuit.BUZZER: [("R", "1k")],
    Circuit.MODEM_RESET: [("R", "4.7k"), ("R", "4.7k")],  # series + base pull-down
    Circuit.UPS_SIGNAL: [("R", "10k"), ("C", "100nF")],
    Circuit.LOAD_SENSE: [("R", "10k"), ("R", "1k")],  # pull-up + series from the LM393's open collector
}


def _prefix(ref: str) -> str:
    return re.sub(r"\d+$", "", ref)


def _microfarads(value: str) -> float:
    m = re.match(r"([\d.]+)\s*(u|n|p)F", value)
    if not m:
        return 0.0
    return float(m.group(1)) * {"u": 1.0, "n": 1e-3, "p": 1e-6}[m.group(2)]


def netlist_errors(pinmap: PinMap, profile: str, nl: Netlist) -> list[str]:
    errors: list[str] = []
    if HEADER_REF not in nl.components:
        return [f"{profile}: no {HEADER_REF} (Pi header) in the netlist"]
    used: set[int] = set()

    def on_pin(header: int, net: str, what: str) -> bool:
        used.add(header)
        actual = nl.net_of(HEADER_REF, str(header))
        if actual != net:
            errors.append(f"{profile}: {what}: header pin {header} is on net {actual}, pin map says {net}")
            return False
        return True

    for p in pinmap.boards[profile].pins:
        if not on_pin(p.header, p.net, p.role):
            continue
        others = nl.nets[p.net] - {(HEADER_REF, str(p.header))}
        if not others:
            errors.append(f"{profile}: {p.role}: net {p.net} goes nowhere but the header")
        if any(ref == HEADER_REF for ref, _ in others):
            errors.append(f"{profile}: {p.role}: net {p.net} touches the header twice")
        parts = [nl.components[ref] for ref, _ in others]
        for prefix, value in EXPECTED_ON_GPIO[p.circuit]:  # each expectation takes its own part
            match = next((c for c in parts if _prefix(c.ref) == prefix and c.value == value), None)
            if match is None:
                errors.append(f"{profile}: {p.role}: {p.circuit} circuit needs {prefix} {value} on {p.net}")
            else:
                parts.remove(match)
    for bus in pinmap.buses.values():
        for b in bus:
            on_pin(b.header, b.net, f"bus {b.net}")
    for header, kind in HEADER_POWER.items():
        on_pin(header, POWER_NETS[kind], kind)
    for header in range(1, 41):
        if header not in used and nl.net_of(HEADER_REF, str(header)) is not None:
            errors.append(f"{profile}: header pin {header} is wired (net "
                          f"{nl.net_of(HEADER_REF, str(header))}) but not in the pin map")
    for net in ("PI_TXD", "PI_RXD"):
        if net in nl.nets and not any(nl.components[r].value == "BSS138" for r in nl.refs_on(net)):
            errors.append(f"{profile}: {net} does not go through the BSS138 level shifter")
    bulk = sum(_microfarads(nl.components[r].value) for r in nl.refs_on("VBAT_MODEM")
               if _prefix(r) == "C")
    if bulk < 2200:
        errors.append(f"{profile}: VBAT_MODEM has {bulk:.0f} uF, needs >= 2200 uF for 2 A bursts")
    return errors

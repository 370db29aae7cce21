"""Part catalogue of the two boards, defined inline for SKiDL.

Every part is built with ``tool=SKIDL`` from the pin lists below, so the
netlist generates on any machine without a KiCad symbol library. Each part
carries its footprint (KiCad library names, for the PCB or perfboard
layout), a value, and a ``Supplier`` field: the name a technician types into
a common supplier's search (generic names, no catalogue numbers that go
stale). The BOM CSV is made from these fields.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import logging
import os
from dataclasses import dataclass
from typing import Any

# SKiDL logs library-path warnings to stderr at import and opens log files
# named after the running script; neither belongs in a test run or a repo.
with contextlib.redirect_stderr(io.StringIO()):
    import skidl
    from skidl import SKIDL, Net, Part, Pin
    from skidl.logger import erc_logger, rt_logger, stop_log_file_output
# Remove those files ourselves, tolerating one already gone: parallel test
# workers share a working directory and the same file name.
for _logger in (rt_logger, erc_logger):
    for _h in list(_logger.log_file_handlers):
        _name, _h.filename = _h.filename, None
        _h.close()
        if _name:
            with contextlib.suppress(FileNotFoundError):
                os.remove(_name)
stop_log_file_output(True)
builtins.default_circuit.no_files = True  # type: ignore[attr-defined]
for _logger in (rt_logger, erc_logger):
    for _h in _logger.handlers:
        if isinstance(_h, logging.StreamHandler) and not isinstance(_h, logging.FileHandler):
            _h.setStream(io.StringIO())

__all__ = ["CATALOGUE", "Net", "PartSpec", "make", "skidl"]

PASSIVE = Pin.types.PASSIVE
PWR_IN = Pin.types.PWRIN
PWR_OUT = Pin.types.PWROUT
IN = Pin.types.INPUT
OUT = Pin.types.OUTPUT
BIDIR = Pin.types.BIDIR
OC = Pin.types.OPENCOLL


@dataclass(frozen=True, slots=True)
class PartSpec:
    """A kind of part: symbol name, reference prefix, pins, footprint."""

    name: str
    prefix: str
    pins: tuple[tuple[str, str, Any], ...]  # (number, name, pin type)
    footprint: str
    description: str


def _two(name: str, prefix: str, footprint: str, description: str, a: str = "1", b: str = "2") -> PartSpec:
    return PartSpec(name, prefix, (("1", a, PASSIVE), ("2", b, PASSIVE)), footprint, description)


def _header_pins() -> tuple[tuple[str, str, Any], ...]:
    from hardware.pinmap import BCM_TO_HEADER, HEADER_POWER

    by_pin = {v: f"GPIO{k}" for k, v in BCM_TO_HEADER.items()}
    pins = []
    for n in range(1, 41):
        if n in HEADER_POWER:
            pins.append((str(n), HEADER_POWER[n], PWR_IN))
        else:
            pins.append((str(n), by_pin[n], BIDIR))
    return tuple(pins)


CATALOGUE: dict[str, PartSpec] = {
    "R": _two("R", "R", "Resistor_THT:R_Axial_DIN0207_L6.3mm_D2.5mm_P7.62mm_Horizontal", "Resistor"),
    "C": _two("C", "C", "Capacitor_THT:C_Disc_D5.0mm_W2.5mm_P5.00mm", "Ceramic capacitor"),
    "CP": _two("CP", "C", "Capacitor_THT:CP_Radial_D16.0mm_P7.50mm", "Polarised capacitor", "+", "-"),
    "LED": _two("LED", "D", "LED_THT:LED_D5.0mm", "LED", "K", "A"),
    "D": _two("D", "D", "Diode_THT:D_DO-41_SOD81_P10.16mm_Horizontal", "Diode", "K", "A"),
    "FB": _two("FerriteBead", "FB", "Inductor_THT:L_Axial_L5.3mm_D2.2mm_P7.62mm_Horizontal", "Ferrite bead"),
    "F": _two("Fuse", "F", "Fuse:Fuseholder_Cylinder-5x20mm_Schurter_0031_8201_Horizontal_Open", "Fuse"),
    "SW": _two("SW_Push", "SW", "Connector_JST:JST_XH_B2B-XH-A_1x02_P2.50mm_Vertical",
               "Panel-mount switch, wired to a 2-pin JST-XH"),
    "BZ": _two("Buzzer", "BZ", "Buzzer_Beeper:Buzzer_12x9.5RM7.6", "Active buzzer", "+", "-"),
    "LS": _two("Speaker", "LS", "Connector_Phoenix_MC:PhoenixContact_MC_1,5_2-G-3.81_1x02_P3.81mm_Horizontal",
               "Speaker, wired to a 2-pin terminal", "+", "-"),
    "MK": _two("Microphone", "MK", "Connector_JST:JST_XH_B2B-XH-A_1x02_P2.50mm_Vertical",
               "Electret microphone capsule, wired to a 2-pin JST-XH", "+", "-"),
    "NMOS": PartSpec("Q_NMOS_GSD", "Q", (("1", "G", IN), ("2", "S", PASSIVE), ("3", "D", PASSIVE)),
                     "Package_TO_SOT_THT:TO-92_Inline", "N-channel MOSFET"),
    "NPN": PartSpec("Q_NPN_EBC", "Q", (("1", "E", PASSIVE), ("2", "B", IN), ("3", "C", OC)),
                    "Package_TO_SOT_THT:TO-92_Inline", "NPN transistor"),
    "OPTO": PartSpec("PC817", "U", (("1", "A", PASSIVE), ("2", "K", PASSIVE), ("3", "E", PASSIVE),
                                    ("4", "C", PASSIVE)),
                     "Package_DIP:DIP-4_W7.62mm", "Optocoupler"),
    "RPI": PartSpec("RPi_GPIO_Header", "J", _header_pins(),
                    "Connector_PinSocket_2.54mm:PinSocket_2x20_P2.54mm_Vertical",
                    "Raspberry Pi 40-pin GPIO header (the Pi plugs onto the carrier)"),
    "MODEM": PartSpec(
        "GSM_Modem_Module", "U",
        (("1", "VBAT", PWR_IN), ("2", "GND", PWR_IN), ("3", "RXD", IN), ("4", "TXD", OUT),
         ("5", "RST", IN), ("6", "VDD_EXT", PWR_OUT), ("7", "PWRKEY", IN), ("8", "MIC_P", PASSIVE),
         ("9", "MIC_N", PASSIVE), ("10", "SPK_P", PASSIVE), ("11", "SPK_N", PASSIVE),
         ("12", "NETLIGHT", OUT)),
        "Connector_PinSocket_2.54mm:PinSocket_1x12_P2.54mm_Vertical",
        "SIM800-class GSM module breakout on a 1x12 socket (SIM7600: same nets, see docs/hardware.md)"),
    "LM393": PartSpec("LM393", "U",
                      (("1", "OUTA", OC), ("2", "INA-", IN), ("3", "INA+", IN), ("4", "GND", PWR_IN),
                       ("5", "INB+", IN), ("6", "INB-", IN), ("7", "OUTB", OC), ("8", "VCC", PWR_IN)),
                      "Package_DIP:DIP-8_W7.62mm", "Dual comparator, open-collector outputs"),
    "BUCK": PartSpec("DCDC_Buck_Module", "U",
                     (("1", "VIN+", PWR_IN), ("2", "VIN-", PWR_IN), ("3", "VOUT+", PWR_OUT),
                      ("4", "VOUT-", PWR_IN)),
                     "Connector_PinHeader_2.54mm:PinHeader_1x04_P2.54mm_Vertical", "DC-DC buck module"),
    "AMP": PartSpec("Audio_Amp_Module", "U",
                    (("1", "VIN", PWR_IN), ("2", "GND", PWR_IN), ("3", "A+", IN), ("4", "A-", IN),
                     ("5", "SD", IN), ("6", "VO+", OUT), ("7", "VO-", OUT)),
                    "Connector_PinHeader_2.54mm:PinHeader_1x07_P2.54mm_Vertical",
                    "Mono class-D amplifier module"),
    "DCIN": PartSpec("Conn_01x02_DC_In", "J", (("1", "+", PWR_OUT), ("2", "-", PWR_OUT)),
                     "TerminalBlock_Phoenix:TerminalBlock_Phoenix_MKDS-1,5-2_1x02_P5.00mm_Horizontal",
                     "2-pin screw terminal, DC input (where power enters the board)"),
    "CONN2": _two("Conn_01x02", "J",
                  "TerminalBlock_Phoenix:TerminalBlock_Phoenix_MKDS-1,5-2_1x02_P5.00mm_Horizontal",
                  "2-pin screw terminal"),
    "JSTSH4": PartSpec("Conn_01x04_JST_SH", "J", tuple((str(n), str(n), PASSIVE) for n in range(1, 5)),
                       "Connector_JST:JST_SH_BM04B-SRSS-TB_1x04-1MP_P1.00mm_Vertical",
                       "4-pin JST-SH I2C connector"),
    "CONN4": PartSpec("Conn_01x04", "J", tuple((str(n), str(n), PASSIVE) for n in range(1, 5)),
                      "TerminalBlock_Phoenix:TerminalBlock_Phoenix_MKDS-1,5-4_1x04_P5.00mm_Horizontal",
                      "4-pin screw terminal"),
    "RJ9": PartSpec("RJ9_4P4C", "J", tuple((str(n), str(n), PASSIVE) for n in range(1, 5)),
                    "Connector_RJ:RJ9_Evercon_3A1-4P4C", "Handset jack 4P4C"),
}


def make(kind: str, value: str, supplier: str, *, ref: str | None = None, note: str = "",
         footprint: str | None = None) -> Part:
    """A part of the catalogue with its value and supplier name (and its own
    footprint where the kind's default does not fit, e.g. a bigger capacitor)."""
    spec = CATALOGUE[kind]
    pins = [Pin(num=num, name=name, func=func) for num, name, func in spec.pins]
    kwargs: dict[str, Any] = {}
    if ref is not None:
        kwargs["ref"] = ref
    part = Part(tool=SKIDL, dest=skidl.NETLIST, name=spec.name, ref_prefix=spec.prefix, pins=pins,
                footprint=footprint or spec.footprint, value=value, description=spec.description, **kwargs)
    part.tag = part.ref  # stable timestamps/tags in the netlist, no random ones
    part.fields["Supplier"] = supplier
    if note:
        part.fields["Note"] = note
    return part

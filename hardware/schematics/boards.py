"""The two boards as SKiDL circuits, built from the pin map.

``build(profile)`` returns a fresh SKiDL ``Circuit``; the Pi header nets
are named and wired exactly as ``pinmap.yaml`` says, so the netlist and the
firmware defaults share one source. ``python -m hardware.schematics.build``
writes the KiCad netlists, the BOMs and the pictures.
"""

from __future__ import annotations

from typing import Any

from hardware.pinmap import Circuit as Block
from hardware.pinmap import PinMap, load_pinmap
from hardware.schematics import blocks
from hardware.schematics.parts import Net, make, skidl

#: colour of each LED, per board (the pin map's notes say what each means)
LED_COLOURS = {
    "field": {"led_recorded": "yellow", "led_delivered": "green", "led_fault": "red"},
    "panel": {"led_ring": "amber", "led_active": "green", "led_fault": "red", "led_delivered": "blue"},
}
BUTTON_SUPPLIERS = {
    "field": "30 mm IP67 anti-vandal stainless push button, momentary, NO",
    "panel": "22 mm momentary push button, NO",
}
TAMPER_SUPPLIER = "micro-switch with roller lever, NC contact used (V-156-1C25 type)"
TITLES = {"field": "Siaga 112 field call box", "panel": "Siaga 112 call-centre panel"}


def build(profile: str, pinmap: PinMap | None = None) -> Any:
    """The board of one firmware profile as a SKiDL circuit."""
    pm = pinmap or load_pinmap()
    board = pm.boards[profile]
    circuit = skidl.Circuit()
    circuit.no_files = True
    circuit.track_src = False
    with circuit:
        rails = blocks.Rails(v12=Net("+12V"), v5=Net("+5V"), v3v3=Net("+3V3"), vbat=Net("VBAT_MODEM"),
                             vdd_ext=Net("MODEM_VDD_EXT"), gnd=Net("GND"))
        header = make("RPI", "Raspberry Pi 3/4/Zero 2 W",
                      "2x20 female header 2.54 mm (Raspberry Pi GPIO, stacking)", ref="J1")
        blocks.power(rails, header)
        uart: dict[str, Any] = {}
        for bus_pins in pm.buses.values():
            for bp in bus_pins:
                n = Net(bp.net)
                blocks.connect(n, blocks.pin(header, str(bp.header)))
                uart[bp.net] = n
        modem = blocks.modem(rails, header, uart)
        if "I2C_SDA" in uart:  # 4-pin JST-SH (Qwiic order) for an RTC or INA219 battery monitor
            i2c = make("JSTSH4", "I2C", "4-pin JST-SH 1.0 mm header (Qwiic / STEMMA QT order)",
                       note="1 GND 2 3V3 3 SDA 4 SCL; RTC or INA219 battery monitor")
            blocks.connect(rails.gnd, blocks.pin(i2c, "1"))
            blocks.connect(rails.v3v3, blocks.pin(i2c, "2"))
            blocks.connect(uart["I2C_SDA"], blocks.pin(i2c, "3"))
            blocks.connect(uart["I2C_SCL"], blocks.pin(i2c, "4"))
        ups = None
        if any(p.circuit is Block.UPS_SIGNAL for p in board.pins):
            ups = make("CONN4", "UPS", "4-pin 5.08 mm screw terminal block",
                       note="1 +12V (unused here) 2 GND 3 charger input 13.8-15 V "
                            "4 battery-low open collector")
            blocks.connect(rails.gnd, blocks.pin(ups, "2"))
        spare: list[Any] = []
        if any(p.circuit is Block.LOAD_SENSE for p in board.pins):
            rails.load_rtn = Net("LOAD_RTN")
        for p in board.pins:
            gpio = Net(p.net)
            blocks.connect(gpio, blocks.pin(header, str(p.header)))
            if p.circuit is Block.BUTTON:
                supplier = TAMPER_SUPPLIER if p.role == "door_tamper" else BUTTON_SUPPLIERS[profile]
                blocks.button(rails, gpio, p.role, supplier)
            elif p.circuit is Block.LED:
                blocks.led(rails, gpio, LED_COLOURS[profile].get(p.role, "red"))
            elif p.circuit is Block.BUZZER:
                blocks.buzzer(rails, gpio)
            elif p.circuit is Block.MODEM_RESET:
                blocks.modem_reset(rails, gpio, modem)
            elif p.circuit is Block.LOAD_SENSE:
                spare.append(blocks.load_sense(rails, gpio))
            elif p.circuit is Block.UPS_SIGNAL:
                if p.role == "mains_ok":
                    blocks.ups_mains_ok(rails, gpio, ups)
                else:
                    blocks.ups_open_collector(rails, gpio, ups, "4")
        if profile == "field":
            blocks.audio_field(rails, modem)
        else:
            blocks.audio_panel(rails, modem)
        # ERC: the Pi's regulator drives 3V3, the fused 12 V bus is supplied
        # through the input diode; spare pins are deliberately unconnected.
        for rail in (rails.v3v3, rails.v12, rails.gnd):
            rail.drive = skidl.POWER
        for hp in header.pins:
            if not hp.is_connected():
                circuit.NC += hp
        if ups is not None:
            circuit.NC += blocks.pin(ups, "1")
        for unused in spare:  # the LM393's second comparator: inputs tied, output open
            circuit.NC += unused
    return circuit


def erc(profile: str, pinmap: PinMap | None = None) -> tuple[int, int, str]:
    """SKiDL's electrical rules check: (errors, warnings, report)."""
    import io
    import logging

    from skidl.logger import erc_logger

    circuit = build(profile, pinmap)
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    erc_logger.addHandler(handler)
    try:
        erc_logger.error.reset()
        erc_logger.warning.reset()
        circuit.ERC()
        return erc_logger.error.count, erc_logger.warning.count, buf.getvalue()
    finally:
        erc_logger.removeHandler(handler)


def netlist(profile: str, pinmap: PinMap | None = None) -> str:
    """KiCad netlist (s-expression, version "D", opens in KiCad 6-9 Pcbnew),
    with the volatile date replaced so regenerating changes nothing."""
    circuit = build(profile, pinmap)
    text = str(circuit.generate_netlist(tool=skidl.KICAD8, do_backup=False))
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("(date "):
            line = line[: len(line) - len(stripped)] + '(date "generated")'
        elif stripped.startswith("(source "):
            line = line[: len(line) - len(stripped)] + f'(source "hardware/schematics/boards.py {profile}")'
        elif stripped == "(title)":
            line = line.replace("(title)", f'(title "{TITLES[profile]}")')
        lines.append(line)
    return "\n".join(lines) + "\n"

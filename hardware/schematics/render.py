"""Pictures of the two boards (schemdraw -> SVG), drawn from the pin map.

Two sheets per board: ``<board>-gpio.svg`` (the Pi header and the circuit
behind every pin the pin map lists, joined by net labels) and
``<board>-power-modem.svg`` (supply, modem, level shifter, audio). The
pictures are for reading and soldering; the KiCad netlist next to them is the
exact connection list, and ``tests/hardware/test_schematics.py`` checks the
netlist against the pin map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemdraw
import schemdraw.elements as elm

from hardware.pinmap import Circuit, PinEntry, PinMap, load_pinmap
from hardware.schematics.boards import LED_COLOURS, TITLES

CELL_W = 14.0
CELL_H = 12.5


def _tag(text: str, size: int = 8) -> Any:
    """A net-label flag wide enough for its text."""
    return elm.Tag(width=max(2.0, 0.14 * size / 8 * len(text) + 0.8)).label(text, fontsize=size)


def _label(d: Any, at: tuple[float, float], text: str) -> None:
    """A net label whose wire end is ``at``; the next element starts there."""
    d += _tag(text).at(at).left()
    d.here = schemdraw.util.Point(at)


def _gnd(d: Any) -> None:
    d += elm.Ground()


def _title(d: Any, at: tuple[float, float], text: str, size: int = 11) -> None:
    d += elm.Label().at(at).label(text, loc="right", fontsize=size)


def _to_ground(d: Any, part: Any, label: str) -> None:
    """A junction here with a ``part`` (a factory: an element made inside the
    drawing is placed at once) hanging from it to ground; the drawing goes on
    from the junction."""
    d += elm.Dot()
    d.push()
    d += part().down(2.5).label(label, loc="bottom")
    _gnd(d)
    d.pop()


def _pull_up(d: Any) -> None:
    """A junction here with 10k up to +3V3; the drawing goes on from the junction."""
    d += elm.Dot()
    d.push()
    d += elm.Resistor().up(3).label("10k", loc="bottom")
    d += elm.Vdd().label("+3V3")
    d.pop()


def _button(d: Any, p: PinEntry) -> None:
    d += elm.Line().right(1)
    _to_ground(d, elm.Capacitor, "100nF")
    d += elm.Resistor().right(3).label("1k")
    _pull_up(d)
    sw = "NC tamper switch" if p.role == "door_tamper" else "button"
    d += elm.Button().right(3).label(sw)
    d += elm.Line().down(1)
    _gnd(d)


def _npn_switch(d: Any, base_r: str, pulldown_r: str, emitter: str = "") -> Any:
    """GPIO -> base resistor, base pull-down, 2N3904 with grounded emitter (or
    an emitter to the ``emitter`` net: the load-sense return); returns the
    transistor so the caller draws its collector load."""
    d += elm.Resistor().right(3).label(base_r)
    d += elm.Dot()
    d.push()
    d += elm.Resistor().down(2.5).label(pulldown_r, loc="bottom")
    _gnd(d)
    d.pop()
    d += elm.Line().right(1)
    q = elm.BjtNpn().anchor("base").label("2N3904", loc="right")
    d += q
    if emitter:
        d += elm.Line().at(q.emitter).down(1)
        d += _tag(emitter, 8).right()
    else:
        d += elm.Ground().at(q.emitter)
    return q


def _low_side(d: Any, load: str, flyback: bool = False, emitter: str = "") -> None:
    top = _npn_switch(d, "1k", "10k", emitter).collector
    if load == "buzzer":
        d += elm.RBox().up(3).at(top).label("BZ 5V", loc="bottom")
        d.push()
        d += elm.Vdd().label("+5V")
        d.pop()
        if flyback:
            d += elm.Line().right(2).at(top)
            d += elm.Diode().up(3).reverse().label("1N4148", loc="bottom")
            d += elm.Line().left(2)
    else:
        d += elm.LED().up(2.5).at(top).reverse().label(load, loc="bottom")
        d += elm.Resistor().up(2.5).label("150", loc="bottom")
        d += elm.Vdd().label("+5V")


def _modem_reset(d: Any) -> None:
    q = _npn_switch(d, "4.7k", "4.7k")
    d += elm.Line().up(1.5).at(q.collector)
    d += _tag("MODEM_RST (modem RST)", 9).right()


def _load_sense(d: Any) -> None:
    """LM393 output -> 1k -> GPIO (10k pull-up); the comparator and the sense
    resistor as a short chain below, with net labels to the drivers."""
    d += elm.Line().right(1)
    _pull_up(d)
    d += elm.Resistor().right(3).label("1k")
    d += elm.Line().right(1)
    d += _tag("LM393 OUTA (open collector)", 8).right()
    x, y = d.here[0] - 9, d.here[1] - 3.5
    d += _tag("LOAD_RTN", 8).at((x, y)).left()
    d.here = schemdraw.util.Point((x, y))
    _to_ground(d, elm.Resistor, "4.7R sense")
    d += elm.Resistor().right(3).label("10k")
    _to_ground(d, elm.Capacitor, "100nF")
    d += elm.Line().right(1)
    d += _tag("LM393 IN-", 8).right()
    _title(d, (x - 3, y - 5.5), "LM393 IN+ = LOAD_REF: 68k from +3V3, 1k to GND (48 mV, ~10 mA trip); "
           "VCC +3V3 + 100nF; comparator B tied off", 8)


def _ups_signal(d: Any, p: PinEntry) -> None:
    d += elm.Line().right(1)
    _pull_up(d)
    d.push()
    d += elm.Capacitor().down(2.5).label("100nF", loc="bottom")
    _gnd(d)
    d.pop()
    if p.role == "mains_ok":
        d += elm.Line().right(3)
        start = d.here[0]
        d += _tag("PC817 collector; emitter to GND", 8).right()
        _title(d, (start, d.here[1] - 1.6),
               "PC817 LED: J_UPS 3 (charger in) -> 2.2k -> LED -> GND, 1N4148 anti-parallel", 8)
    else:
        d += elm.Resistor().right(3).label("1k")
        d += elm.Line().right(1)
        d += _tag("J_UPS 4: battery-low open collector", 8).right()


def _cell(d: Any, origin: tuple[float, float], p: PinEntry, profile: str, emitter: str = "") -> None:
    _title(d, (origin[0] - 3, origin[1] + 8),
           f"{p.net}  GPIO{p.bcm} / pin {p.header}  {p.role}, active {p.active}", 10)
    _label(d, origin, p.net)
    if p.circuit is Circuit.BUTTON:
        _button(d, p)
    elif p.circuit is Circuit.LED:
        _low_side(d, f"{LED_COLOURS[profile].get(p.role, 'red')} LED", emitter=emitter)
    elif p.circuit is Circuit.BUZZER:
        _low_side(d, "buzzer", flyback=True, emitter=emitter)
    elif p.circuit is Circuit.LOAD_SENSE:
        _load_sense(d)
    elif p.circuit is Circuit.MODEM_RESET:
        _modem_reset(d)
    elif p.circuit is Circuit.UPS_SIGNAL:
        _ups_signal(d, p)


def draw_gpio(pm: PinMap, profile: str, path: Path) -> None:
    board = pm.boards[profile]
    nets = [(p.bcm, p.header, p.net) for p in board.pins]
    for bus in pm.buses.values():
        nets += [(b.bcm, b.header, b.net) for b in bus]
    # schemdraw stacks right-side pins bottom-up; reverse so the list reads top-down
    pins = [elm.IcPin(name=f"GPIO{bcm} {net}", pin=str(header), side="right", anchorname=f"P{header}")
            for bcm, header, net in reversed(nets)]
    pins += [elm.IcPin(name="5V", pin="2, 4", side="left"), elm.IcPin(name="3V3", pin="1, 17", side="left"),
             elm.IcPin(name="GND", pin="6, 9, 14, 20, 25, 30, 34, 39", side="left")]
    with schemdraw.Drawing(file=str(path), show=False) as d:
        d.config(fontsize=10, unit=2.5)
        _title(d, (0, 8), f"{TITLES[profile]}: Raspberry Pi header and GPIO circuits", 14)
        _title(d, (0, 6.5), "Generated by hardware/schematics/render.py from pinmap.yaml; "
               "the exact connections are in the KiCad netlist beside this file.", 9)
        ic = elm.Ic(pins=pins, pinspacing=1.3, edgepadH=0.8, w=7).label("J1 Raspberry Pi 40-pin header",
                                                                        loc="top")
        d += ic.at((0, -len(pins) * 1.3 - 2))
        for _bcm, header, net in nets:
            d += elm.Line().at(ic.absanchors[f"P{header}"]).right(1.5)
            d += _tag(net, 8).right()
        x0 = 22.0
        cols = 2
        emitter = "LOAD_RTN" if any(p.circuit is Circuit.LOAD_SENSE for p in board.pins) else ""
        for i, p in enumerate(board.pins):
            col, row = i % cols, i // cols
            _cell(d, (x0 + col * CELL_W * 1.3, -row * CELL_H - 4), p, profile, emitter)


def _power(d: Any, y: float, profile: str) -> dict[str, Any]:
    _title(d, (0, y + 3), "Supply: 12 V DC (from the DC-UPS / PSU) -> two bucks", 12)
    d += _tag("J 12V IN", 9).at((0, y)).left()
    d += elm.Fuse().right(3).label("F 3A T")
    d += elm.Schottky().right(3).label("1N5822")
    d += elm.Dot().label("+12V", loc="top")
    d.push()
    d += elm.DiodeTVS().down(2.5).reverse().label("P6KE18A", loc="bottom")
    _gnd(d)
    d.pop()
    d += elm.Line().right(2)
    d += elm.Dot()
    d.push()
    d += elm.Capacitor(polar=True).down(2.5).label("470uF 25V", loc="bottom")
    _gnd(d)
    d.pop()
    d += elm.Line().right(2)
    split = d.here
    d += elm.RBox(w=3).right(4).label("XL4015 buck\n5.1 V, 5 A")
    d += elm.Dot().label("+5V", loc="top")
    d.push()
    d += elm.Capacitor(polar=True).down(2.5).label("470uF", loc="bottom")
    _gnd(d)
    d.pop()
    d += elm.Line().right(2)
    loads = "J1 pins 2, 4 (Pi), LEDs, buzzer" + (", amplifier" if profile == "field" else "")
    d += _tag(f"+5V: {loads}", 9).right()
    d += elm.Line().at(split).down(6)
    d += elm.RBox(w=3).right(4).label("LM2596S buck\n4.0 V, 3 A")
    d += elm.Dot().label("VBAT_MODEM", loc="top")
    x = d.here
    # factories, not instances: an element created inside a Drawing context is placed at once
    for make_part, label in (
        (lambda: elm.Capacitor(polar=True), "2200uF\nlow-ESR"),
        (lambda: elm.Capacitor(polar=True), "100uF\npolymer"),
        (elm.Capacitor, "10uF"),
        (elm.Capacitor, "100nF"),
        (elm.Capacitor, "33pF"),
        (elm.Capacitor, "10pF"),
        (lambda: elm.Zener().reverse(), "5V1"),
    ):
        d += elm.Line().at(x).right(2.2)
        x = d.here
        d += elm.Dot()
        d.push()
        d += make_part().down(2.5).label(label, loc="bottom")
        _gnd(d)
        d.pop()
    d += elm.Line().at(x).right(2)
    return {"vbat": d.here}


def draw_power_modem(profile: str, path: Path) -> None:
    with schemdraw.Drawing(file=str(path), show=False) as d:
        d.config(fontsize=10, unit=2.5)
        _title(d, (0, 6), f"{TITLES[profile]}: supply, modem, level shifter, audio", 14)
        at = _power(d, 0, profile)
        modem_pins = [
            elm.IcPin(name="VBAT", pin="1", side="left"), elm.IcPin(name="GND", pin="2", side="left"),
            elm.IcPin(name="PWRKEY", pin="7", side="left"), elm.IcPin(name="RST", pin="5", side="left"),
            elm.IcPin(name="RXD", pin="3", side="left"), elm.IcPin(name="TXD", pin="4", side="left"),
            elm.IcPin(name="VDD_EXT", pin="6", side="left"),
            elm.IcPin(name="MIC_P", pin="8", side="right"), elm.IcPin(name="MIC_N", pin="9", side="right"),
            elm.IcPin(name="SPK_P", pin="10", side="right"), elm.IcPin(name="SPK_N", pin="11", side="right"),
            elm.IcPin(name="NETLIGHT", pin="12", side="right"),
        ]
        m = elm.Ic(pins=modem_pins, pinspacing=1.2, edgepadH=0.8, w=5).label("U3 SIM800C (or SIM7600)",
                                                                               loc="top")
        d += m.at((at["vbat"][0] + 6, at["vbat"][1] + 8)).anchor("VBAT")
        d += elm.Wire("-|").at(at["vbat"]).to(m.VBAT)
        d += elm.Line().at(m.GND).left(1.5)
        _gnd(d)
        d += elm.Line().at(m.PWRKEY).left(1.5)
        d += _tag("GND (auto power-on)", 9).left()
        d += elm.Line().at(m.RST).left(1.5)
        d += _tag("MODEM_RST (2N3904 collector)", 9).left()
        for sig, other in (("RXD", "PI_TXD (GPIO14, pin 8)"), ("TXD", "PI_RXD (GPIO15, pin 10)")):
            d += elm.Line().at(getattr(m, sig)).left(1.5)
            d += elm.RBox(w=4).left(5).label("BSS138 shifter\n10k to VDD_EXT / 3V3", fontsize=8)
            d += _tag(other, 9).left()
        d += elm.Line().at(m.VDD_EXT).left(1.5)
        d += _tag("MODEM_VDD_EXT: shifter gates + LV pull-ups", 9).left()
        d += elm.Line().at(m.NETLIGHT).right(1.5)
        d += elm.Line().up(1.5)
        d += elm.Resistor().right(3).label("1k")
        d += elm.LED().right(2.5).label("NET")
        d += elm.Line().right(0.5)
        _gnd(d)
        for side in ("P", "N"):
            d += elm.Line().at(getattr(m, f"MIC_{side}")).right(1.5)
            d += elm.Inductor().right(3).label("ferrite + 33pF to GND", fontsize=8)
            if profile == "field":
                d += _tag(f"electret mic {'+' if side == 'P' else '-'}", 9).right()
            else:
                d += _tag(f"handset RJ9 pin {'4' if side == 'P' else '1'} (MIC)", 9).right()
        if profile == "field":
            for side, amp in (("P", "A+"), ("N", "A-")):
                d += elm.Line().at(getattr(m, f"SPK_{side}")).right(1.5)
                d += elm.Capacitor().right(3).label("1uF")
                d += _tag(f"PAM8302 {amp}", 9).right()
            base = (m.NETLIGHT[0] + 6, m.NETLIGHT[1] + 6)
            d += _tag("PAM8302 A+ / A-", 8).at(base).left()
            d += elm.RBox(w=4, h=2).at(base).right(5).label("PAM8302 2.5 W class-D\nVIN = SD = +5V",
                                                             fontsize=8, loc="top")
            d += elm.Line().right(1)
            d += elm.Speaker().right().label("8R 3W IP65 speaker", loc="right")
        else:
            for side, jack in (("P", "3"), ("N", "2")):
                d += elm.Line().at(getattr(m, f"SPK_{side}")).right(4.5)
                d += _tag(f"handset RJ9 pin {jack} (receiver)", 9).right()


def render_all(out_dir: Path, pinmap: PinMap | None = None, fmt: str = "svg") -> list[Path]:
    """Both sheets of both boards; ``fmt="png"`` (matplotlib) for a quick look."""
    pm = pinmap or load_pinmap()
    schemdraw.use("matplotlib" if fmt == "png" else "svg")
    out: list[Path] = []
    for profile in pm.boards:
        for name, fn in ((f"{profile}-gpio.{fmt}", lambda p, pr=profile: draw_gpio(pm, pr, p)),
                         (f"{profile}-power-modem.{fmt}", lambda p, pr=profile: draw_power_modem(pr, p))):
            path = out_dir / name
            fn(path)
            out.append(path)
    return out

"""Power budget of the two boards: loads, converter ratings, the modem's bulk
capacitor, battery runtime.

The numbers are typical values from datasheets and published measurements
(not measured on our boards; see docs/hardware.md for sources and the bench
check to do on the first build). They live in code so that the design rules
are checked by a test (a converter with too little margin, a capacitor too
small for a whole GSM burst) and the tables in docs/hardware.md are printed
from here: ``python -m hardware.power`` (``--update-docs`` rewrites them).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

#: the two supply rails of a board
RAIL_5V = "5V"
RAIL_MODEM = "VBAT"


@dataclass(frozen=True, slots=True)
class Load:
    name: str
    rail: str
    idle_a: float    # standby: registered on the network, nothing happening
    call_a: float    # average during a voice call
    peak_a: float    # worst instantaneous (the Pi under load, a GSM TX burst)
    source: str


PI_MODELS: dict[str, Load] = {
    "zero2w": Load("Raspberry Pi Zero 2 W", RAIL_5V, 0.12, 0.20, 0.58,
                   "idle: CNX Software 2021 (Otii Arc, Bullseye); peak: 4-core load estimate"),
    "pi3bplus": Load("Raspberry Pi 3 B+", RAIL_5V, 0.40, 0.50, 1.00, "RPi docs: 500 mA typical active"),
    "pi4": Load("Raspberry Pi 4 B", RAIL_5V, 0.55, 0.65, 1.30, "RPi docs: 600 mA typical active"),
}
MODEMS: dict[str, tuple[Load, float]] = {  # modem load, rail voltage
    "sim800": (Load("SIM800C modem", RAIL_MODEM, 0.020, 0.250, 2.00, "SIMCom SIM800 datasheet"), 4.0),
    # 4.0 V suits both families (SIM800 3.4-4.4 V, SIM7600 3.4-4.2 V): one buck setting,
    # and 3.8 V would leave too little headroom for a burst carried by the capacitor alone.
    "sim7600": (Load("SIM7600E modem", RAIL_MODEM, 0.030, 0.500, 2.00, "SIMCom SIM7600 datasheet (GSM)"),
                4.0),
}
AMP = Load("PAM8302 amplifier + 8 ohm speaker", RAIL_5V, 0.004, 0.15, 0.55, "PAM8302A datasheet, speech")
LED = Load("panel LED (each, 150 ohm from 5 V)", RAIL_5V, 0.0, 0.020, 0.020, "(5 V - 2 V) / 150 ohm")
BUZZER = Load("5 V active buzzer", RAIL_5V, 0.0, 0.0, 0.030, "buzzer datasheet, 30 mA")

#: how many LEDs a board lights at once, at most and during a call
LEDS = {"field": {"call": 2, "peak": 3}, "panel": {"call": 2, "peak": 4}}

#: the converters and capacitor the schematic fits
BUCK_5V_RATING_A = 5.0      # XL4015 module
BUCK_MODEM_RATING_A = 3.0   # LM2596S module
BUCK_EFFICIENCY = 0.85
RATING_MARGIN = 1.5         # converter rating >= 1.5 x worst peak
BULK_UF = 2200.0            # low-ESR electrolytic at the modem's VBAT
BULK_ESR_OHM = 0.03         # 2200 uF low-ESR in parallel with 100 uF polymer
GSM_BURST_S = 577e-6        # one GSM timeslot at full power
BUCK_RESPONSE_S = 100e-6    # time a 150 kHz buck takes to answer a load step
MODEM_MIN_V = 3.4           # datasheet minimum VBAT (below it the module may switch off)
#: the battery of the field-box DC-UPS
BATTERY_V = 12.8            # LiFePO4, 4 cells
BATTERY_AH = 7.0
BATTERY_USABLE = 0.8


@dataclass(frozen=True, slots=True)
class Budget:
    board: str
    pi: str
    modem: str
    rail_5v_idle_a: float
    rail_5v_call_a: float
    rail_5v_peak_a: float
    rail_modem_idle_a: float
    rail_modem_call_a: float
    rail_modem_peak_a: float
    modem_v: float
    standby_w: float        # at the battery, converter losses included
    call_w: float
    runtime_standby_h: float
    runtime_call_h: float


def budget(board: str, pi: str = "zero2w", modem: str = "sim800") -> Budget:
    p = PI_MODELS[pi]
    m, vm = MODEMS[modem]
    leds = LEDS[board]
    amp = AMP if board == "field" else None  # the panel's handset runs off the modem directly
    idle5 = p.idle_a + (amp.idle_a if amp else 0.0)
    call5 = p.call_a + (amp.call_a if amp else 0.0) + leds["call"] * LED.call_a
    peak5 = p.peak_a + (amp.peak_a if amp else 0.0) + leds["peak"] * LED.peak_a + BUZZER.peak_a
    standby = (5.0 * idle5 + vm * m.idle_a) / BUCK_EFFICIENCY
    call = (5.0 * call5 + vm * m.call_a) / BUCK_EFFICIENCY
    energy = BATTERY_V * BATTERY_AH * BATTERY_USABLE
    return Budget(board, pi, modem, idle5, call5, peak5, m.idle_a, m.call_a, m.peak_a, vm,
                  standby, call, energy / standby, energy / call)


@dataclass(frozen=True, slots=True)
class BulkCheck:
    worst_droop_v: float       # the capacitor alone carries a whole burst
    realistic_droop_v: float   # the buck answers after BUCK_RESPONSE_S
    esr_drop_v: float
    worst_min_v: float
    min_uf_for_whole_burst: float


def bulk_check(modem: str = "sim800", capacitance_uf: float | None = None) -> BulkCheck:
    m, vm = MODEMS[modem]
    if capacitance_uf is None:
        capacitance_uf = BULK_UF
    step = m.peak_a - m.idle_a
    c = capacitance_uf * 1e-6
    esr = step * BULK_ESR_OHM
    worst = step * GSM_BURST_S / c
    realistic = step * BUCK_RESPONSE_S / c
    allowed = vm - MODEM_MIN_V - esr
    return BulkCheck(worst, realistic, esr, vm - worst - esr, step * GSM_BURST_S / allowed * 1e6)


def design_errors() -> list[str]:
    """Every design rule the fitted parts break, for every supported combination."""
    errors: list[str] = []
    for board in ("field", "panel"):
        for pi in PI_MODELS:
            for modem in MODEMS:
                b = budget(board, pi, modem)
                if b.rail_5v_peak_a * RATING_MARGIN > BUCK_5V_RATING_A:
                    errors.append(f"{board}/{pi}/{modem}: 5 V buck {BUCK_5V_RATING_A} A < "
                                  f"{RATING_MARGIN} x {b.rail_5v_peak_a:.2f} A peak")
                if b.rail_modem_peak_a * RATING_MARGIN > BUCK_MODEM_RATING_A:
                    errors.append(f"{board}/{pi}/{modem}: modem buck {BUCK_MODEM_RATING_A} A < "
                                  f"{RATING_MARGIN} x {b.rail_modem_peak_a:.2f} A peak")
    for modem in MODEMS:
        bc = bulk_check(modem)
        if bc.worst_min_v < MODEM_MIN_V:
            errors.append(f"{modem}: {BULK_UF:.0f} uF lets VBAT fall to {bc.worst_min_v:.2f} V "
                          f"in a {GSM_BURST_S * 1e6:.0f} us burst (< {MODEM_MIN_V} V); "
                          f"needs {bc.min_uf_for_whole_burst:.0f} uF")
    return errors


def render_markdown() -> str:
    """The tables of docs/hardware.md (between the power-budget markers)."""
    out = ["| board | Pi | modem | 5 V idle / call / peak (A) | modem rail idle / call / peak (A) "
           "| at battery standby / call (W) | runtime on 12.8 V 7 Ah LiFePO4 standby / call (h) |",
           "|---|---|---|---|---|---|---|"]
    combos = [("field", "zero2w", "sim800"), ("field", "pi3bplus", "sim800"), ("field", "pi4", "sim800"),
              ("field", "zero2w", "sim7600"), ("panel", "pi3bplus", "sim800"), ("panel", "pi4", "sim800"),
              ("panel", "pi4", "sim7600")]
    for board, pi, modem in combos:
        b = budget(board, pi, modem)
        out.append(
            f"| {board} | {PI_MODELS[pi].name} | {MODEMS[modem][0].name} @ {b.modem_v:.1f} V "
            f"| {b.rail_5v_idle_a:.2f} / {b.rail_5v_call_a:.2f} / {b.rail_5v_peak_a:.2f} "
            f"| {b.rail_modem_idle_a:.3f} / {b.rail_modem_call_a:.2f} / {b.rail_modem_peak_a:.2f} "
            f"| {b.standby_w:.2f} / {b.call_w:.2f} | {b.runtime_standby_h:.0f} / {b.runtime_call_h:.0f} |")
    out += ["", "| load | rail | idle (A) | call (A) | peak (A) | source |", "|---|---|---|---|---|---|"]
    loads = [*PI_MODELS.values(), *(m for m, _ in MODEMS.values()), AMP, LED, BUZZER]
    for ld in loads:
        out.append(f"| {ld.name} | {ld.rail} | {ld.idle_a:.3f} | {ld.call_a:.3f} | {ld.peak_a:.2f} "
                   f"| {ld.source} |")
    out += ["", "| modem bulk capacitor check | SIM800 @ 4.0 V | SIM7600 @ 4.0 V |", "|---|---|---|"]
    b8, b76 = bulk_check("sim800"), bulk_check("sim7600")
    rows = [
        ("fitted", f"{BULK_UF:.0f} uF, ESR {BULK_ESR_OHM} ohm", f"{BULK_UF:.0f} uF, ESR {BULK_ESR_OHM} ohm"),
        ("ESR step at the burst edge (V)", f"{b8.esr_drop_v:.2f}", f"{b76.esr_drop_v:.2f}"),
        (f"droop if the capacitor alone carries a {GSM_BURST_S * 1e6:.0f} us burst (V)",
         f"{b8.worst_droop_v:.2f}", f"{b76.worst_droop_v:.2f}"),
        ("lowest VBAT in that worst case (V; must stay >= 3.4)", f"{b8.worst_min_v:.2f}",
         f"{b76.worst_min_v:.2f}"),
        (f"droop when the buck answers in {BUCK_RESPONSE_S * 1e6:.0f} us (V)", f"{b8.realistic_droop_v:.2f}",
         f"{b76.realistic_droop_v:.2f}"),
        ("smallest capacitor for the worst case (uF)", f"{b8.min_uf_for_whole_burst:.0f}",
         f"{b76.min_uf_for_whole_burst:.0f}"),
    ]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out) + "\n"


DOC_START, DOC_END = "<!-- power-budget:start -->\n", "<!-- power-budget:end -->"


def update_doc(path: Path) -> bool:
    """Rewrite the tables between the markers of docs/hardware.md; True if changed."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(DOC_START, 1)
    _, tail = rest.split(DOC_END, 1)
    new = head + DOC_START + render_markdown() + DOC_END + tail
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    if sys.argv[1:] == ["--update-docs"]:
        doc = Path(__file__).resolve().parents[1] / "docs" / "hardware.md"
        print(f"{doc}: {'updated' if update_doc(doc) else 'up to date'}")
        raise SystemExit(0)
    print(render_markdown(), end="")
    errs = design_errors()
    for e in errs:
        print(f"DESIGN RULE BROKEN: {e}")
    raise SystemExit(1 if errs else 0)

"""Circuit blocks shared by the two boards (SKiDL).

Why each block looks the way it does is in docs/hardware.md; the values here
are the ones the power budget (hardware/power.py) and the BOM use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hardware.schematics.parts import Net, make

DO35 = "Diode_THT:D_DO-35_SOD27_P7.62mm_Horizontal"


def pin(part: Any, name: str) -> Any:
    """The pin with exactly this name or number (SKiDL's own lookup is a regex)."""
    for p in part.pins:
        if p.name == name or str(p.num) == name:
            return p
    raise KeyError(f"{part.ref} has no pin {name!r}")


def connect(net: Any, *pins: Any) -> Any:
    for p in pins:
        net += p
    return net


@dataclass
class Rails:
    """The supply nets every block draws from."""

    v12: Any
    v5: Any
    v3v3: Any
    vbat: Any
    vdd_ext: Any
    gnd: Any
    #: where the LED and buzzer drivers' emitters return: GND, or the load-sense
    #: resistor on a board with a ``load_sense`` line
    load_rtn: Any = None


def r(value: str, supplier_extra: str = "") -> Any:
    return make("R", value, f"{value} ohm 1/4 W metal film resistor {supplier_extra}".strip())


def c(value: str, supplier: str) -> Any:
    return make("C", value, supplier)


def power(rails: Rails, header: Any) -> None:
    """12 V in -> fuse -> reverse-polarity diode -> TVS -> two bucks:
    5.1 V for the Pi (through the header) and 4.0 V for the modem, with the
    bulk capacitance that carries the modem's 2 A transmit bursts."""
    j = make("DCIN", "12V IN", "2-pin 5.08 mm screw terminal block", note="from the DC-UPS / PSU")
    f = make("F", "3A T", "5x20 mm 3 A slow-blow fuse + PCB fuse holder")
    d = make("D", "1N5822", "1N5822 3 A 40 V Schottky diode (DO-201AD)", note="reverse-polarity protection",
             footprint="Diode_THT:D_DO-201AD_P15.24mm_Horizontal")
    tvs = make("D", "P6KE18A", "P6KE18A 18 V unidirectional TVS diode (DO-15)", note="input surge clamp",
               footprint="Diode_THT:D_DO-15_P10.16mm_Horizontal")
    v12_raw, v12_fused = Net("V12_RAW"), Net("V12_FUSED")
    connect(v12_raw, pin(j, "1"), pin(f, "1"))
    connect(v12_fused, pin(f, "2"), pin(d, "A"))
    connect(rails.v12, pin(d, "K"), pin(tvs, "K"))
    connect(rails.gnd, pin(j, "2"), pin(tvs, "A"))
    c12 = make("CP", "470uF 25V", "470 uF 25 V low-ESR electrolytic capacitor",
               footprint="Capacitor_THT:CP_Radial_D10.0mm_P5.00mm")
    connect(rails.v12, pin(c12, "+"))
    connect(rails.gnd, pin(c12, "-"))

    buck5 = make("BUCK", "5.1V 5A", "XL4015 5 A DC-DC buck module (set to 5.1 V)",
                 note="Pi + amplifier + LEDs; set 5.1 V before plugging the Pi")
    buck4 = make("BUCK", "4.0V 3A", "LM2596S 3 A DC-DC buck module (set to 4.0 V)",
                 note="modem only; short thick leads (<10 cm, 0.5 mm2)")
    for b, out in ((buck5, rails.v5), (buck4, rails.vbat)):
        connect(rails.v12, pin(b, "VIN+"))
        connect(rails.gnd, pin(b, "VIN-"), pin(b, "VOUT-"))
        connect(out, pin(b, "VOUT+"))
    c5 = make("CP", "470uF 10V", "470 uF 10 V low-ESR electrolytic capacitor",
              footprint="Capacitor_THT:CP_Radial_D8.0mm_P3.50mm")
    c5n = c("100nF", "100 nF 50 V ceramic capacitor X7R")
    connect(rails.v5, pin(c5, "+"), pin(c5n, "1"), pin(header, "2"), pin(header, "4"))
    connect(rails.gnd, pin(c5, "-"), pin(c5n, "2"))
    for n, name in ((int(p.num), p.name) for p in header.pins):
        if name == "GND":
            connect(rails.gnd, pin(header, str(n)))
        elif name == "3V3":
            connect(rails.v3v3, pin(header, str(n)))

    # Modem supply: 2200 uF carries a whole 577 us burst at 2 A alone
    # (dV = I*t/C = 0.52 V, 4.0 -> 3.48 V > 3.4 V brown-out), then the
    # datasheet's high-frequency decoupling and a 5.1 V clamp.
    bulk = make("CP", "2200uF 10V", "2200 uF 10 V low-ESR electrolytic capacitor (105 C)",
                note="within 2 cm of the module VBAT pin",
                footprint="Capacitor_THT:CP_Radial_D12.5mm_P5.00mm")
    poly = make("CP", "100uF 10V", "100 uF 10 V polymer or tantalum capacitor, low ESR",
                footprint="Capacitor_THT:CP_Radial_D6.3mm_P2.50mm")
    c10u = c("10uF", "10 uF 16 V ceramic capacitor X7R")
    c100n = c("100nF", "100 nF 50 V ceramic capacitor X7R")
    c33p = c("33pF", "33 pF 50 V C0G ceramic capacitor")
    c10p = c("10pF", "10 pF 50 V C0G ceramic capacitor")
    zener = make("D", "5V1 0.5W", "BZX55C5V1 5.1 V 500 mW Zener diode", note="VBAT overvoltage clamp",
                 footprint=DO35)
    connect(rails.vbat, pin(bulk, "+"), pin(poly, "+"), pin(c10u, "1"), pin(c100n, "1"), pin(c33p, "1"),
            pin(c10p, "1"), pin(zener, "K"))
    connect(rails.gnd, pin(bulk, "-"), pin(poly, "-"), pin(c10u, "2"), pin(c100n, "2"), pin(c33p, "2"),
            pin(c10p, "2"), pin(zener, "A"))


def modem(rails: Rails, header: Any, uart: dict[str, Any]) -> Any:
    """The modem module, its UART through a two-channel BSS138 level shifter
    (3.3 V Pi side, modem VDD_EXT side: 2.8 V SIM800, 1.8 V SIM7600; the
    shifter is unpowered while the modem is off, so the Pi never back-powers
    it), and PWRKEY tied low for auto power-on."""
    m = make("MODEM", "SIM800C", "SIM800C GSM module breakout with VDD_EXT, MIC and SPK pads",
             note="SIM7600-class: same nets and 4.0 V; its VDD_EXT is 1.8 V")
    connect(rails.vbat, pin(m, "VBAT"))
    connect(rails.gnd, pin(m, "GND"), pin(m, "PWRKEY"))
    connect(rails.vdd_ext, pin(m, "VDD_EXT"))
    modem_rxd, modem_txd = Net("MODEM_RXD"), Net("MODEM_TXD")
    connect(modem_rxd, pin(m, "RXD"))
    connect(modem_txd, pin(m, "TXD"))
    for hv, lv in ((uart["PI_TXD"], modem_rxd), (uart["PI_RXD"], modem_txd)):
        q = make("NMOS", "BSS138",
                 "BSS138 N-MOSFET level shifter (or a 4-channel BSS138 level-shifter board)",
                 footprint="Package_TO_SOT_SMD:SOT-23")
        r_hv, r_lv = r("10k"), r("10k")
        connect(rails.vdd_ext, pin(q, "G"), pin(r_lv, "1"))
        connect(lv, pin(q, "S"), pin(r_lv, "2"))
        connect(hv, pin(q, "D"), pin(r_hv, "2"))
        connect(rails.v3v3, pin(r_hv, "1"))
    netlight = make("LED", "green", "3 mm green LED", note="modem network status, inside the box",
                    footprint="LED_THT:LED_D3.0mm")
    r_nl = r("1k")
    nl = Net("MODEM_NETLIGHT")
    connect(nl, pin(m, "NETLIGHT"), pin(r_nl, "1"))
    connect(Net("MODEM_NETLIGHT_LED"), pin(r_nl, "2"), pin(netlight, "A"))
    connect(rails.gnd, pin(netlight, "K"))
    return m


def modem_reset(rails: Rails, gpio: Any, m: Any) -> None:
    """GPIO high -> NPN pulls the modem's RST low. The Pi never drives the
    modem's pin directly. GPIO4 has a ~50k pull-UP from power-on until the
    agent claims it (GPIO0-8 boot pulled up); against 4.7k in series a 100k
    base pull-down would let ~2 V onto the base and hold the modem in reset
    whenever the agent is not running. 4.7k to GND keeps the base at ~0.26 V;
    driven high, the base still gets ~0.4 mA."""
    q = make("NPN", "2N3904", "2N3904 NPN transistor (TO-92)")
    rb, rpd = r("4.7k"), r("4.7k")
    connect(gpio, pin(rb, "1"), pin(rpd, "1"))
    connect(Net("MODEM_RESET_B"), pin(rb, "2"), pin(q, "B"))
    connect(rails.gnd, pin(rpd, "2"), pin(q, "E"))
    connect(Net("MODEM_RST"), pin(q, "C"), pin(m, "RST"))


def button(rails: Rails, gpio: Any, label: str, supplier: str) -> None:
    """Switch to GND with a 10k pull-up at the switch, 1k series and 100 nF at
    the GPIO: the long leads of a panel-mount switch pick up ESD and mains
    hum; the RC and the series resistor keep both out of the SoC."""
    sw = make("SW", label, supplier)
    pull, series = r("10k"), r("1k")
    cap = c("100nF", "100 nF 50 V ceramic capacitor X7R")
    sw_net = Net(f"{gpio.name}_SW")
    connect(sw_net, pin(sw, "1"), pin(pull, "2"), pin(series, "1"))
    connect(rails.v3v3, pin(pull, "1"))
    connect(gpio, pin(series, "2"), pin(cap, "1"))
    connect(rails.gnd, pin(sw, "2"), pin(cap, "2"))


def _low_side(rails: Rails, gpio: Any, load_neg: Any) -> None:
    """2N3904 low-side switch: 1k base (2.6 mA from a 3.3 V GPIO, saturates
    the transistor for 20-30 mA), 10k base pull-down (off while the Pi boots).
    A bipolar, not a 2N7000: the 2N7000's threshold may be up to 3 V, too
    close to a 3.3 V GPIO."""
    q = make("NPN", "2N3904", "2N3904 NPN transistor (TO-92)")
    rb, rpd = r("1k"), r("10k")
    connect(gpio, pin(rb, "1"))
    connect(Net(f"{gpio.name}_B"), pin(rb, "2"), pin(rpd, "1"), pin(q, "B"))
    connect(rails.gnd, pin(rpd, "2"))
    connect(rails.load_rtn if rails.load_rtn is not None else rails.gnd, pin(q, "E"))
    connect(Net(f"{gpio.name}_C"), pin(q, "C"), load_neg)


def led(rails: Rails, gpio: Any, colour: str) -> None:
    """A 5 V panel LED at ~19 mA through a transistor (a GPIO gives 3.3 V and should
    source only a few mA; a field box LED must be seen in daylight)."""
    d = make("LED", colour, f"10 mm {colour} high-brightness LED + panel-mount bezel (IP67)")
    rs = r("150")
    connect(rails.v5, pin(rs, "1"))
    connect(Net(f"{gpio.name}_A"), pin(rs, "2"), pin(d, "A"))
    _low_side(rails, gpio, pin(d, "K"))


def buzzer(rails: Rails, gpio: Any) -> None:
    bz = make("BZ", "5V active", "5 V active buzzer 85 dB (magnetic, 30 mA)")
    fly = make("D", "1N4148", "1N4148 switching diode", note="flyback across the buzzer", footprint=DO35)
    connect(rails.v5, pin(bz, "+"), pin(fly, "K"))
    _low_side(rails, gpio, pin(bz, "-"))
    # the collector net now holds the buzzer's "-"; add the flyback anode there
    collector = next(n for n in pin(bz, "-").nets)
    connect(collector, pin(fly, "A"))


def load_sense(rails: Rails, gpio: Any) -> Any:
    """Every LED and buzzer driver returns through 4.7 ohm to GND; an LM393
    compares that drop (RC-filtered: 10k + 100 nF, 1 ms, which also averages a
    magnetic buzzer's pulsed draw) with 48 mV from a 68k/1k divider, so its
    open collector pulls the GPIO low (through 1k, as every input) while more than ~10 mA flows (one LED
    draws ~19 mA: 89 mV; the buzzer ~30 mA: 141 mV). The self-test switches
    each part on alone and reads the line: an open LED, a burnt buzzer or a
    dead transistor leaves it high. Returns the unused comparator's output
    (the caller marks it no-connect)."""
    assert rails.load_rtn is not None
    u = make("LM393", "LM393", "LM393 dual comparator DIP-8 (LM393N)",
             note="load sense: low while an LED or the buzzer draws current")
    r_sense = r("4.7", "(1 %)")
    r_filt, c_filt = r("10k"), c("100nF", "100 nF 50 V ceramic capacitor X7R")
    r_top, r_bot = r("68k"), r("1k")
    pull, series = r("10k"), r("1k")
    c_dec = c("100nF", "100 nF 50 V ceramic capacitor X7R")
    connect(rails.load_rtn, pin(r_sense, "1"), pin(r_filt, "1"))
    connect(rails.gnd, pin(r_sense, "2"), pin(c_filt, "2"), pin(r_bot, "2"), pin(u, "GND"), pin(c_dec, "2"),
            pin(u, "INB+"))
    connect(Net("LOAD_SENSE_IN"), pin(r_filt, "2"), pin(c_filt, "1"), pin(u, "INA-"))
    connect(Net("LOAD_REF"), pin(r_top, "2"), pin(r_bot, "1"), pin(u, "INA+"))
    connect(rails.v3v3, pin(r_top, "1"), pin(u, "VCC"), pin(c_dec, "1"), pin(pull, "1"), pin(u, "INB-"))
    connect(Net("LOAD_SENSE_OC"), pin(u, "OUTA"), pin(series, "1"))
    connect(gpio, pin(series, "2"), pin(pull, "2"))  # low = 3.3 V x 1k / 11k = 0.3 V
    return pin(u, "OUTB")


def ups_mains_ok(rails: Rails, gpio: Any, ups: Any) -> None:
    """Charger input present -> PC817 LED on -> transistor pulls MAINS_OK low.
    The opto keeps the charger's 13.8-15 V (and its surges) off the Pi."""
    opto = make("OPTO", "PC817", "PC817 optocoupler DIP-4")
    rl = r("2.2k")
    rev = make("D", "1N4148", "1N4148 switching diode", note="reverse protection of the opto LED",
               footprint=DO35)
    pull = r("10k")
    cap = c("100nF", "100 nF 50 V ceramic capacitor X7R")
    connect(Net("UPS_CHG_IN"), pin(ups, "3"), pin(rl, "1"))
    connect(Net("UPS_OPTO_A"), pin(rl, "2"), pin(opto, "A"), pin(rev, "K"))
    connect(rails.gnd, pin(opto, "K"), pin(rev, "A"), pin(opto, "E"), pin(cap, "2"))
    connect(gpio, pin(opto, "C"), pin(pull, "2"), pin(cap, "1"))
    connect(rails.v3v3, pin(pull, "1"))


def ups_open_collector(rails: Rails, gpio: Any, ups: Any, ups_pin: str) -> None:
    """An open-collector status output of the UPS board, pulled up to 3.3 V."""
    pull, series = r("10k"), r("1k")
    cap = c("100nF", "100 nF 50 V ceramic capacitor X7R")
    oc = Net(f"{gpio.name}_OC")
    connect(oc, pin(ups, ups_pin), pin(series, "1"))
    connect(gpio, pin(series, "2"), pin(pull, "2"), pin(cap, "1"))
    connect(rails.v3v3, pin(pull, "1"))
    connect(rails.gnd, pin(cap, "2"))


def _mic_filter(rails: Rails, m: Any, mic_p: Any, mic_n: Any) -> None:
    """Ferrite beads and 33 pF to GND on each microphone line: the GSM burst
    (217 Hz TDMA buzz) couples into long mic leads otherwise."""
    for side, src in (("P", mic_p), ("N", mic_n)):
        fb = make("FB", "600R@100MHz", "ferrite bead 600 ohm @ 100 MHz")
        cap = c("33pF", "33 pF 50 V C0G ceramic capacitor")
        connect(Net(f"MIC_{side}_EXT"), src, pin(fb, "1"))
        connect(Net(f"MODEM_MIC_{side}"), pin(fb, "2"), pin(cap, "1"), pin(m, f"MIC_{side}"))
        connect(rails.gnd, pin(cap, "2"))


def audio_field(rails: Rails, m: Any) -> None:
    """Modem SPK -> 1 uF DC blocks -> PAM8302 class-D -> 8 ohm weatherproof
    speaker; electret capsule -> ferrites -> modem MIC (the modem biases it)."""
    amp = make("AMP", "PAM8302", "PAM8302A 2.5 W mono class-D amplifier module",
               note="gain set by the modem's AT+CLVL; SD tied on")
    connect(rails.v5, pin(amp, "VIN"), pin(amp, "SD"))
    connect(rails.gnd, pin(amp, "GND"))
    for side, amp_pin in (("P", "A+"), ("N", "A-")):
        cb = make("C", "1uF", "1 uF 50 V film or X7R ceramic capacitor")
        connect(Net(f"MODEM_SPK_{side}"), pin(m, f"SPK_{side}"), pin(cb, "1"))
        connect(Net(f"AMP_IN_{side}"), pin(cb, "2"), pin(amp, amp_pin))
    spk = make("LS", "8R 3W IP65", "8 ohm 3 W weatherproof horn / marine speaker (IP65)")
    connect(Net("SPK_OUT_P"), pin(amp, "VO+"), pin(spk, "+"))
    connect(Net("SPK_OUT_N"), pin(amp, "VO-"), pin(spk, "-"))
    mic = make("MK", "electret", "electret microphone capsule 9.7 mm, -42 dB, behind an IP67 vent membrane")
    _mic_filter(rails, m, pin(mic, "+"), pin(mic, "-"))


def audio_panel(rails: Rails, m: Any) -> None:
    """A standard telephone handset on a 4P4C jack, straight on the modem's
    receiver output (drives 32 ohm and up) and microphone input."""
    jack = make("RJ9", "handset", "RJ9 4P4C handset jack, PCB mount + desk telephone handset")
    # 4P4C handset pinout (most desk phones): 1 MIC-, 2 REC-, 3 REC+, 4 MIC+
    connect(Net("MODEM_SPK_N"), pin(m, "SPK_N"), pin(jack, "2"))
    connect(Net("MODEM_SPK_P"), pin(m, "SPK_P"), pin(jack, "3"))
    _mic_filter(rails, m, pin(jack, "4"), pin(jack, "1"))

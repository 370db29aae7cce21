"""The SKiDL sources, the committed KiCad netlists, BOMs and pictures, and
the pin map agree; the power design keeps its rules."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hardware import power
from hardware.pinmap import load_pinmap
from hardware.schematics import build
from hardware.schematics.boards import erc, netlist
from hardware.schematics.check import netlist_errors
from hardware.schematics.netlist import load_netlist, read_netlist

SCHEMATICS = Path(build.__file__).parent
DOC = Path(__file__).resolve().parents[2] / "docs" / "hardware.md"
NETLISTS = {"field": SCHEMATICS / "field-box.net", "panel": SCHEMATICS / "panel.net"}


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    """Generated in a fresh interpreter, as `python -m hardware.schematics.build`
    runs: process-wide state left by other tests (e.g. an ElementTree namespace
    registered by the gateway's CAP export) must not change the pictures."""
    code = ("import json, sys; from hardware.schematics import build; "
            "json.dump({k: v.decode('latin-1') for k, v in build.outputs().items()}, sys.stdout)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=300).stdout
    return {k: v.encode("latin-1") for k, v in json.loads(out).items()}


def test_committed_outputs_are_what_the_sources_generate(generated: dict[str, bytes]) -> None:
    """Netlists, BOMs and SVGs in the repo are regenerated, byte for byte."""
    assert sorted(generated) == sorted([
        "bom-field-box.csv", "bom-panel.csv", "field-box.net", "panel.net",
        "field-gpio.svg", "field-power-modem.svg", "panel-gpio.svg", "panel-power-modem.svg"])
    stale = [name for name, content in generated.items() if (SCHEMATICS / name).read_bytes() != content]
    assert stale == [], "run: .venv/bin/python -m hardware.schematics.build"


def test_pictures_are_svg_with_the_nets(generated: dict[str, bytes]) -> None:
    pm = load_pinmap()
    for name in [n for n in generated if n.endswith(".svg")]:
        root = ET.fromstring(generated[name])  # well-formed XML
        assert root.tag.endswith("svg"), name
    for profile in ("field", "panel"):
        svg = generated[f"{profile}-gpio.svg"].decode()
        for p in pm.boards[profile].pins:
            assert p.net in svg


@pytest.mark.parametrize("profile", ["field", "panel"])
def test_netlist_matches_the_pin_map(profile: str) -> None:
    assert netlist_errors(load_pinmap(), profile, load_netlist(NETLISTS[profile])) == []


@pytest.mark.parametrize("profile", ["field", "panel"])
def test_netlist_is_a_kicad_netlist_of_the_whole_board(profile: str) -> None:
    nl = load_netlist(NETLISTS[profile])
    text = NETLISTS[profile].read_text()
    assert text.startswith("(export") and '(version "D")' in text
    values = {c.value for c in nl.components.values()}
    assert {"SIM800C", "BSS138", "2200uF 10V", "5.1V 5A", "4.0V 3A", "2N3904"} <= values
    for comp in nl.components.values():
        assert comp.footprint, comp.ref
        assert comp.fields.get("Supplier"), comp.ref
    # no dangling nets
    for name, nodes in nl.nets.items():
        assert len(nodes) >= 2, name


def test_edited_pin_map_copy_is_caught_by_the_netlist_check() -> None:
    """Move a button in a copy of the pin map: the committed netlist no longer
    matches it, and a netlist regenerated from the copy follows the move."""
    pm = load_pinmap()
    field = pm.boards["field"]
    pins = [p.model_copy(update={"bcm": 26, "header": 37}) if p.role == "button_fire" else p
            for p in field.pins]
    moved = field.model_copy(update={"pins": pins})
    edited = pm.model_copy(update={"boards": {**pm.boards, "field": moved}})
    errors = netlist_errors(edited, "field", load_netlist(NETLISTS["field"]))
    assert "field: button_fire: header pin 37 is on net None, pin map says BTN_FIRE" in errors
    assert "field: header pin 13 is wired (net BTN_FIRE) but not in the pin map" in errors
    regenerated = read_netlist(netlist("field", edited))
    assert regenerated.net_of("J1", "37") == "BTN_FIRE"
    assert regenerated.net_of("J1", "13") is None
    assert netlist_errors(edited, "field", regenerated) == []


def test_a_missing_conditioning_part_is_caught() -> None:
    nl = load_netlist(NETLISTS["panel"])
    cap = next(ref for ref, _ in nl.nets["BTN_ANSWER"] if ref.startswith("C"))
    nl.nets["BTN_ANSWER"] = {n for n in nl.nets["BTN_ANSWER"] if n[0] != cap}
    assert netlist_errors(load_pinmap(), "panel", nl) == [
        "panel: button_answer: button circuit needs C 100nF on BTN_ANSWER"]


def test_too_little_bulk_capacitance_is_caught() -> None:
    nl = load_netlist(NETLISTS["field"])
    bulk = next(r for r, _ in nl.nets["VBAT_MODEM"] if nl.components[r].value == "2200uF 10V")
    nl.nets["VBAT_MODEM"] = {n for n in nl.nets["VBAT_MODEM"] if n[0] != bulk}
    errors = netlist_errors(load_pinmap(), "field", nl)
    assert len(errors) == 1 and "VBAT_MODEM has 110 uF" in errors[0]


@pytest.mark.parametrize("profile,stem", [("field", "field-box"), ("panel", "panel")])
def test_bom_counts_every_part_once(profile: str, stem: str) -> None:
    rows = list(csv.DictReader(io.StringIO((SCHEMATICS / f"bom-{stem}.csv").read_text())))
    assert list(rows[0]) == build.BOM_HEADER
    on_board = [r for r in rows if r["references"] != "-"]
    refs = [ref for r in on_board for ref in r["references"].split()]
    assert sorted(refs) == sorted(load_netlist(NETLISTS[profile]).components)
    assert all(int(r["quantity"]) == len(r["references"].split()) for r in on_board)
    assert all(r["part"] and r["value"] and r["supplier_part"] for r in rows)
    assert any(r["part"] == "Raspberry Pi" for r in rows)


def test_power_design_rules_hold() -> None:
    assert power.design_errors() == []
    bc = power.bulk_check("sim800")
    assert bc.worst_min_v >= power.MODEM_MIN_V
    assert bc.min_uf_for_whole_burst <= power.BULK_UF


def test_power_rules_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    bc = power.bulk_check("sim800", capacitance_uf=1000)
    assert bc.worst_min_v < power.MODEM_MIN_V  # 1000 uF alone cannot carry a burst
    monkeypatch.setattr(power, "BULK_UF", 1000.0)
    monkeypatch.setattr(power, "BUCK_MODEM_RATING_A", 2.0)
    errors = power.design_errors()
    assert any(e.startswith("sim800: 1000 uF lets VBAT fall to") for e in errors)
    assert any("modem buck 2.0 A < 1.5 x 2.00 A peak" in e for e in errors)


def test_docs_show_the_current_power_tables() -> None:
    doc = DOC.read_text()
    start, end = power.DOC_START, power.DOC_END
    assert start in doc and end in doc
    assert doc.split(start)[1].split(end)[0] == power.render_markdown(), \
        "run: .venv/bin/python -m hardware.power --update-docs"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_independent_kicad_parser_reads_the_same_board() -> None:
    """kinparse (a KiCad netlist parser, separate from SKiDL's writer and our
    reader) sees the same parts and nets. One board: it takes ~8 s."""
    import kinparse

    profile = "field"
    theirs = kinparse.parse_netlist(str(NETLISTS[profile]))
    ours = load_netlist(NETLISTS[profile])
    assert {p.ref: p.value for p in theirs.parts} == {r: c.value for r, c in ours.components.items()}
    assert {n.name: {(p.ref, p.num) for p in n.pins} for n in theirs.nets} == ours.nets


@pytest.mark.parametrize("profile", ["field", "panel"])
def test_skidl_erc_is_clean(profile: str) -> None:
    errors, warnings, report = erc(profile)
    assert (errors, warnings) == (0, 0), report


def test_erc_catches_unconnected_modem_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardware.schematics import blocks

    monkeypatch.setattr(blocks, "audio_field", lambda rails, m: None)
    errors, warnings, report = erc("field")
    assert errors == 0 and warnings == 4 and "Unconnected pin: PASSIVE pin 8/MIC_P" in report

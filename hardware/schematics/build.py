"""Regenerate every design output from the sources: KiCad netlists, BOMs,
pictures. ``python -m hardware.schematics.build [--check]``.

``--check`` writes nothing and exits 1 if any committed output differs from
what the sources produce now (the test suite runs the same comparison).
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from hardware.pinmap import PinMap, load_pinmap
from hardware.schematics.boards import netlist
from hardware.schematics.netlist import read_netlist
from hardware.schematics.render import render_all

OUT_DIR = Path(__file__).parent
BOM_HEADER = ["part", "value", "quantity", "supplier_part", "references", "footprint", "note"]

#: what a box needs beyond the carrier board (not in the netlist)
OFF_BOARD: dict[str, list[tuple[str, str, int, str, str]]] = {
    "common": [
        ("SIM card", "data + voice, 112-capable", 1, "Telkomsel / Indosat / XL prepaid or IoT SIM", ""),
        ("GSM antenna", "SMA, 3 dBi", 1, "GSM/LTE antenna SMA male + IPEX-to-SMA bulkhead pigtail", ""),
        ("microSD card", "16-32 GB endurance", 1, "high-endurance / industrial pSLC microSD 16 GB", ""),
        ("M2.5 standoffs", "11 mm", 4, "M2.5 x 11 mm brass standoff + screws", "Pi to carrier"),
    ],
    "field": [
        ("Raspberry Pi", "Zero 2 W (recommended; 3 B+/4 B fit)", 1, "Raspberry Pi Zero 2 W with header", ""),
        ("Enclosure", "IP66 polycarbonate, ~250x200x120 mm", 1,
         "IP66 ABS/PC junction box 250x200x120 with hinged lid and lock", "UV-stabilised, light grey"),
        ("Cable gland", "PG9 / M16", 3, "PG9 nylon cable gland IP68", "mains, antenna, spare"),
        ("Vent", "M12 breather", 1, "M12 IP67 pressure-equalisation vent (ePTFE membrane)", ""),
        ("DC-UPS + charger", "12 V LiFePO4", 1, "12 V LiFePO4 charger / DC-UPS module with AC-OK output", ""),
        ("Battery", "12.8 V 7 Ah LiFePO4", 1, "12.8 V 7 Ah LiFePO4 battery (F2 terminals)", ""),
        ("Mains PSU", "230 V AC -> 14.6 V DC 3 A", 1, "DIN-rail / enclosed 15 V 3 A switching PSU", ""),
        ("Surge protector", "230 V", 1, "DIN-rail type 2 surge protection device", "pole-mounted boxes"),
    ],
    "panel": [
        ("Raspberry Pi", "4 B 2 GB (3 B+ fits)", 1, "Raspberry Pi 4 Model B 2 GB", ""),
        ("Handset", "4P4C desk telephone handset", 1, "telephone handset with coiled 4P4C cord", ""),
        ("Enclosure", "desk console, ~200x150x70 mm", 1, "ABS sloped desktop console enclosure", ""),
        ("PSU", "12 V 3 A", 1, "12 V 3 A DC adapter (on the call-centre UPS)", ""),
    ],
}


def bom_rows(netlist_text: str, profile: str) -> list[list[str]]:
    nl = read_netlist(netlist_text)
    groups: dict[tuple[str, str, str, str, str], list[str]] = defaultdict(list)
    for comp in nl.components.values():
        key = (comp.fields.get("Description", comp.part), comp.value, comp.fields.get("Supplier", ""),
               comp.footprint, comp.fields.get("Note", ""))
        groups[key].append(comp.ref)

    def ref_key(ref: str) -> tuple[str, int]:
        head = ref.rstrip("0123456789")
        return head, int(ref[len(head):] or 0)

    rows = []
    for (part, value, supplier, footprint, note), refs in sorted(
            groups.items(), key=lambda kv: ref_key(min(kv[1], key=ref_key))):
        refs.sort(key=ref_key)
        rows.append([part, value, str(len(refs)), supplier, " ".join(refs), footprint, note])
    for part, value, qty, supplier, note in OFF_BOARD["common"] + OFF_BOARD[profile]:
        rows.append([part, value, str(qty), supplier, "-", "-", note])
    return rows


def bom_csv(netlist_text: str, profile: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(BOM_HEADER)
    w.writerows(bom_rows(netlist_text, profile))
    return buf.getvalue()


def outputs(pinmap: PinMap | None = None) -> dict[str, bytes]:
    """File name -> content of every generated output."""
    pm = pinmap or load_pinmap()
    files: dict[str, bytes] = {}
    for profile in pm.boards:
        text = netlist(profile, pm)
        stem = "field-box" if profile == "field" else "panel"
        files[f"{stem}.net"] = text.encode()
        files[f"bom-{stem}.csv"] = bom_csv(text, profile).encode()
    with tempfile.TemporaryDirectory() as tmp:
        for path in render_all(Path(tmp), pm):
            files[path.name] = path.read_bytes()
    return files


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    stale = []
    for name, content in outputs().items():
        path = OUT_DIR / name
        if path.exists() and path.read_bytes() == content:
            continue
        stale.append(name)
        if not check:
            path.write_bytes(content)
            print(f"ditulis / written: {path}")
    if check and stale:
        print("Usang, jalankan / stale, run: python -m hardware.schematics.build: " + ", ".join(stale))
        return 1
    if not stale:
        print("Semua keluaran mutakhir / all outputs up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

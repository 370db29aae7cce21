"""Read a KiCad netlist (s-expression) back: components and nets.

Used by the tests (is every pin-map net wired as the pin map says?) and by
the BOM writer, so both read the file a technician or KiCad would read, not
SKiDL's objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))')


def parse_sexp(text: str) -> list:
    """The s-expression as nested lists of strings."""
    stack: list[list] = [[]]
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"bad s-expression at offset {pos}")
        pos = m.end()
        if m.group(1):
            stack.append([])
        elif m.group(2):
            if len(stack) < 2:
                raise ValueError(f"unbalanced ')' at offset {pos}")
            done = stack.pop()
            stack[-1].append(done)
        elif m.group(3) is not None:
            stack[-1].append(m.group(3).replace('\\"', '"'))
        elif m.group(4) is not None:
            stack[-1].append(m.group(4))
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ValueError("unbalanced s-expression")
    return stack[0][0]


def _child(node: list, key: str) -> list | None:
    return next((c for c in node[1:] if isinstance(c, list) and c and c[0] == key), None)


def _children(node: list, key: str) -> list[list]:
    return [c for c in node[1:] if isinstance(c, list) and c and c[0] == key]


def _atom(node: list, key: str) -> str:
    c = _child(node, key)
    return c[1] if c is not None and len(c) > 1 and isinstance(c[1], str) else ""


@dataclass(frozen=True)
class Component:
    ref: str
    value: str
    footprint: str
    part: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Netlist:
    components: dict[str, Component]
    nets: dict[str, set[tuple[str, str]]]  # net name -> {(ref, pin)}

    def net_of(self, ref: str, pin: str) -> str | None:
        for name, nodes in self.nets.items():
            if (ref, pin) in nodes:
                return name
        return None

    def refs_on(self, net: str) -> set[str]:
        return {ref for ref, _ in self.nets.get(net, set())}


def read_netlist(text: str) -> Netlist:
    root = parse_sexp(text)
    if not root or root[0] != "export":
        raise ValueError("not a KiCad netlist (no 'export' root)")
    comps: dict[str, Component] = {}
    for comp in _children(_child(root, "components") or [], "comp"):
        fields: dict[str, str] = {}
        for f in _children(_child(comp, "fields") or [], "field"):
            name = _atom(f, "name")
            value = next((x for x in f[1:] if isinstance(x, str)), "")
            fields[name] = value
        libsource = _child(comp, "libsource") or []
        ref = _atom(comp, "ref")
        comps[ref] = Component(ref=ref, value=_atom(comp, "value"), footprint=_atom(comp, "footprint"),
                               part=_atom(libsource, "part"), fields=fields)
    nets: dict[str, set[tuple[str, str]]] = {}
    for net in _children(_child(root, "nets") or [], "net"):
        nets[_atom(net, "name")] = {(_atom(n, "ref"), _atom(n, "pin")) for n in _children(net, "node")}
    return Netlist(components=comps, nets=nets)


def load_netlist(path: Path) -> Netlist:
    return read_netlist(Path(path).read_text(encoding="utf-8"))

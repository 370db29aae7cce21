"""The layering of the top-level packages, read from the source.

Every ``import`` counts, lazy ones inside functions included (parsed with
``ast``, nothing is imported): a cycle hidden behind a function-level import
is still a cycle for whoever has to move one package without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("protocol", "firmware", "gateway", "central", "siaga")
#: what each package may import besides itself; firmware runs on a Pi with protocol alone
ONLY = {"protocol": set(), "firmware": {"protocol"}}


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """Absolute module names imported anywhere in ``tree``, with their lines."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, node.lineno))
    return out


def package_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) -> the ``file:line`` places that import it."""
    edges: dict[tuple[str, str], list[str]] = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for module, line in imported_modules(tree):
                top = module.split(".")[0]
                if top in PACKAGES and top != pkg:
                    edges.setdefault((pkg, top), []).append(f"{path.relative_to(REPO)}:{line}")
    return edges


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Every elementary cycle among the packages, each starting at its smallest name."""
    succ: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(succ.get(node, ())):
            if nxt == start:
                found.add(tuple(path))
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for start in sorted(succ):
        walk(start, start, [start])
    return [list(c) for c in sorted(found)]


def test_the_walker_sees_lazy_imports_and_finds_cycles():
    tree = ast.parse("import os\n\ndef f():\n    from gateway.store import devices\n    import central.db\n")
    assert [m for m, _ in imported_modules(tree)] == ["os", "gateway.store", "central.db"]
    edges = {("a", "b"): ["x"], ("b", "c"): ["y"], ("c", "a"): ["z"], ("c", "d"): ["w"]}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({("a", "b"): ["x"]}) == []


def test_no_cycle_between_top_level_packages():
    edges = package_edges()
    found = cycles(edges)
    detail = [
        " -> ".join([*c, c[0]]) + ": " + "; ".join(
            f"{a}->{b} at {', '.join(edges[(a, b)][:3])}" for a, b in zip(c, [*c[1:], c[0]], strict=True))
        for c in found
    ]
    assert not found, "import cycles:\n" + "\n".join(detail)


def test_protocol_and_firmware_import_only_what_they_may():
    edges = package_edges()
    wrong = [f"{a} imports {b} at {', '.join(places)}" for (a, b), places in sorted(edges.items())
             if a in ONLY and b not in ONLY[a]]
    assert not wrong, "\n".join(wrong)

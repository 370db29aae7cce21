"""Generate ``docs/config-reference.md`` from the pydantic models of the
three config files, so that every key is documented and the page cannot
drift from the code (``tests/test_config_reference.py`` fails when the
committed page differs from what this renders).

    python -m siaga.config_reference            # rewrite docs/config-reference.md
    python -m siaga.config_reference --check    # exit 1 when it is stale
"""

from __future__ import annotations

import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

DOC = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"


def _files() -> list[tuple[str, str, type[BaseModel]]]:
    from central.settings import CentralSettings
    from firmware.agent.config import UnitConfig
    from gateway.config.models import SiteConfig

    return [
        ("unit.yaml", "A unit (field box or call-centre panel): `siaga unit --config`, "
         "`/etc/siaga/unit.yaml`; written by `siaga admin device add` into the bundle.", UnitConfig),
        ("site.yaml", "The gateway and the city: `siaga gateway --config`, `/etc/siaga/site.yaml`.",
         SiteConfig),
        ("central.yaml", "Fleet admin: `siaga admin --config`, `$SIAGA_CENTRAL_CONFIG`, "
         "`/etc/siaga/central.yaml`. Relative paths are taken from the file's folder.",
         CentralSettings),
    ]


def _strip_optional(tp: Any) -> Any:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
    return tp


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(tp))
    if origin in (list, dict, tuple, set):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(tp))}]"
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(json.dumps(m.value) for m in tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _constraints(f: FieldInfo) -> str:
    out = []
    for m in f.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"),
                          ("min_length", "min length"), ("max_length", "max length"),
                          ("pattern", "pattern")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} `{v}`" if attr == "pattern" else f"{sym} {v}")
    return ", ".join(out)


def _default(f: FieldInfo) -> str:
    if f.is_required():
        return "**required**"
    v = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
    if isinstance(v, BaseModel):
        return "(section)"
    if isinstance(v, enum.Enum):
        v = v.value
    if isinstance(v, Path):
        v = str(v)
    if isinstance(v, list):
        v = [x.value if isinstance(x, enum.Enum) else x for x in v]
    return f"`{json.dumps(v, ensure_ascii=False)}`"


def _models_in(tp: Any) -> list[tuple[str, type[BaseModel]]]:
    """(key suffix, model) for the sections a type holds: ``x``, ``x[]``, ``x.<key>``."""
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [("", tp)]
    if origin is list:
        return [("[]", m) for _, m in _models_in(typing.get_args(tp)[0])]
    if origin is dict:
        return [(".<key>", m) for _, m in _models_in(typing.get_args(tp)[1])]
    return []


def _rows(model: type[BaseModel], prefix: str, rows: list[list[str]], missing: list[str]) -> None:
    for name, f in model.model_fields.items():
        key = f"{prefix}{name}"
        text = " ".join(t.strip().rstrip(".") + "." for t in (f.title, f.description) if t)
        if not text:
            missing.append(key)
        limits = _constraints(f)
        if limits:
            text = f"{text} ({limits})".strip()
        rows.append([f"`{key}`", _type_name(_strip_optional(f.annotation))
                     + (" | null" if _strip_optional(f.annotation) is not f.annotation else ""),
                     _default(f), text.replace("|", "\\|").replace("\n", " ")])
        for suffix, sub in _models_in(f.annotation):
            _rows(sub, f"{key}{suffix}.", rows, missing)


def render() -> tuple[str, list[str]]:
    """(the page, keys without a title or description)."""
    out = ["# Configuration reference",
           "",
           "Generated from the pydantic models by `python -m siaga.config_reference`; do not edit",
           "by hand (`tests/test_config_reference.py` fails when this page is stale). Every",
           "section forbids unknown keys: a typo is an error naming the key.",
           "",
           "All three files are read by one kit (`protocol/configfile.py`), so they behave alike:",
           "",
           "- Each problem is one line `file:line: key: message`, every problem at once",
           "  (`siaga unit --config unit.yaml --check`, `siaga gateway check-config site.yaml`,",
           "  any `siaga admin` command).",
           "- A secret file setting (`broker.password_file`, `sms_fallback.key_file`,",
           "  `secret: {file: ...}`, `sms.master_key_file`) is read as is when absolute; a bare",
           "  file name (no `/`) is the systemd credential of that name when the program runs",
           "  with credentials (`LoadCredential=`, `$CREDENTIALS_DIRECTORY`); any other",
           "  relative path is taken from the config file's folder.",
           ""]
    missing: list[str] = []
    for fname, intro, model in _files():
        rows: list[list[str]] = []
        _rows(model, "", rows, missing)
        out += [f"## `{fname}`", "", intro, "", "| key | type | default | meaning |", "|---|---|---|---|"]
        out += ["| " + " | ".join(cell.replace("|", "\\|") if i == 1 else cell for i, cell in enumerate(r))
                + " |" for r in rows]
        out.append("")
    return "\n".join(out), [f"{m}" for m in missing]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text, missing = render()
    if missing:
        print("Kunci tanpa judul / keys without a title: " + ", ".join(missing), file=sys.stderr)
        return 1
    if "--check" in args:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} usang / is stale: run python -m siaga.config_reference", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"Ditulis / written: {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

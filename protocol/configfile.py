"""One config kit for the three programs: YAML -> pydantic, errors with
``file:line: key: message``, secret files and systemd credentials.

Why one module: the gateway's site file, the unit's ``unit.yaml`` and the
admin host's ``central.yaml`` are written by the same people; a typo must be
reported the same way in each (the line to fix, the key, what is wrong), and
a secret is found the same way in each. PyYAML's composed node tree keeps the
position of every key; pydantic's error ``loc`` is a path into the data;
walking one along the other gives the line.

Secrets: a path setting that names a secret is taken as is when absolute; a
bare file name (no ``/``) is the systemd credential of that name when the
program runs with credentials (``LoadCredential=``, ``$CREDENTIALS_DIRECTORY``
set); any other relative path is taken from the config file's folder.

Lives in ``protocol`` because ``firmware`` may import nothing else; it needs
only PyYAML and pydantic, which every program installs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from protocol.errors import ProtocolError

M = TypeVar("M", bound=BaseModel)

#: one problem: (file, 1-based line or None, dotted key or "", message)
Problem = tuple[str, int | None, str, str]

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


def format_problem(file: str, line: int | None, key: str, message: str) -> str:
    where = f"{file}:{line}" if line is not None else file
    return f"{where}: {key}: {message}" if key else f"{where}: {message}"


class ConfigFileError(ProtocolError, ValueError):
    """A config file that cannot be used; ``errors`` lists every problem as
    ``(file, line, key, message)``, ``str()`` one ``file:line: key: message``
    line each. Each program subclasses it under its own root error."""

    reason = "bad_config"

    def __init__(self, errors: list[Problem]) -> None:
        self.errors = errors
        super().__init__("\n".join(format_problem(*e) for e in errors))


def line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node reachable along ``loc``."""
    import yaml

    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    node = value
                    line = key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def line_of_key(text: str, key: str) -> int | None:
    """1-based line of a key written ``opds[2].channels.webhook.secret`` (or
    ``opds.2.channels``) in YAML ``text``, for problems found after validation."""
    import yaml

    loc: list[str | int] = []
    for part in key.split(":")[0].split("."):
        m = re.fullmatch(r"([^\[]+)((?:\[\d+\])*)", part.strip())
        if not m:
            return None
        name = m.group(1)
        loc.append(int(name) if name.isdigit() else name)
        loc += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    try:
        return line_of(yaml.compose(text, Loader=yaml.SafeLoader), tuple(loc))
    except yaml.YAMLError:
        return None


def validation_problems(exc: ValidationError, node: Any, filename: str) -> list[Problem]:
    """pydantic's errors as problems with their lines."""
    out: list[Problem] = []
    for e in exc.errors():
        # a model validator's loc names no field; a wrapped validator adds "function-..." parts
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = ".".join(str(p) for p in loc)
        msg = e["msg"].removeprefix("Value error, ")
        out.append((filename, line_of(node, loc), key, msg))
    return out


def parse_model(model: type[M], text: str, *, filename: str = "<config>",
                error: type[ConfigFileError] = ConfigFileError, empty_ok: bool = False) -> M:
    """Validate YAML ``text`` as ``model``; raise ``error`` listing every problem.
    ``empty_ok``: an empty file means all defaults."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise error([(filename, line, "", f"YAML tidak valid / invalid YAML: {exc}")]) from None
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        raise error([(filename, 1, "", "harus berupa mapping / the file must be a YAML mapping")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(validation_problems(exc, node, filename)) from None


def read_text(path: Path | str, *, error: type[ConfigFileError] = ConfigFileError) -> str:
    """A config file's text; an unreadable one is a problem naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error([(str(path), None, "", f"tidak bisa dibaca / cannot read: {exc.strerror}")]) from None


def load_model(model: type[M], path: Path | str, *, error: type[ConfigFileError] = ConfigFileError,
               empty_ok: bool = False) -> M:
    """Read and validate one config file (see :func:`parse_model`)."""
    return parse_model(model, read_text(path, error=error), filename=str(path), error=error,
                       empty_ok=empty_ok)


# -- secrets ---------------------------------------------------------------


def credentials_dir() -> Path | None:
    """``$CREDENTIALS_DIRECTORY`` when systemd handed this process credentials."""
    creds = os.environ.get(CREDENTIALS_ENV)
    return Path(creds) if creds else None


def is_credential_name(path: Path | str) -> bool:
    """A bare file name (no folder): a systemd credential when running with credentials."""
    text = str(path)
    return bool(text) and "/" not in text


def secret_path(path: Path | str, base: Path | None = None) -> Path:
    """Where a secret named in a config file is read from: absolute as is; a bare
    name in ``$CREDENTIALS_DIRECTORY`` when set; otherwise relative to ``base``
    (the config file's folder)."""
    p = Path(path)
    if p.is_absolute():
        return p
    creds = credentials_dir()
    if creds is not None and is_credential_name(path):
        return creds / p
    return base / p if base is not None else p


def config_path(path: Path | str, base: Path | None) -> Path:
    """A non-secret path from a config file: relative ones from its folder."""
    p = Path(path)
    return p if p.is_absolute() or base is None else base / p


def read_secret(path: Path | str) -> str:
    """The secret in a file, stripped of surrounding whitespace (raises OSError)."""
    return Path(path).read_text(encoding="utf-8").strip()

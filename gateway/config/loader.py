"""Load a site YAML file and report every problem with its file and line.

PyYAML's composed node tree keeps the position of every key; pydantic's error
``loc`` is a path into the data. Walking one along the other gives the line
an operator must fix, which a bare pydantic message cannot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config.models import SiteConfig
from gateway.errors import ConfigError


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node reachable along ``loc``."""
    if node is None:
        return None
    line = node.start_mark.line + 1
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


def parse_config(text: str, *, filename: str = "<config>", base_dir: Path | None = None) -> SiteConfig:
    """Validate YAML text; raise :class:`ConfigError` listing every problem.

    Relative secret/password file paths are resolved against ``base_dir``
    (the config file's directory)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([(filename, line, "", f"YAML tidak valid / invalid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError([(filename, 1, "", "harus berupa mapping / the file must be a YAML mapping")])
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            key = ".".join(str(p) for p in loc)
            msg = e["msg"].removeprefix("Value error, ")
            errors.append((filename, _line_of(node, loc), key, msg))
        raise ConfigError(errors) from None
    if base_dir is not None:
        _resolve_paths(cfg, base_dir)
    return cfg


def _resolve_paths(cfg: SiteConfig, base: Path) -> None:
    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    cfg.broker.password_file = fix(cfg.broker.password_file)
    cfg.broker.ca_file = fix(cfg.broker.ca_file)
    cfg.gateway.fleet_config = fix(cfg.gateway.fleet_config)
    secrets = [o.callback_token for o in cfg.opds]
    secrets += [o.channels.webhook.secret for o in cfg.opds if o.channels.webhook]
    if cfg.escalation.webhook:
        secrets.append(cfg.escalation.webhook.secret)
    if cfg.sms is not None:
        secrets.append(cfg.sms.master_key)
    for s in secrets:
        if s is not None:
            s.file = fix(s.file)


def line_of_key(text: str, key: str) -> int | None:
    """1-based line of a key written ``opds[2].channels.webhook.secret`` in
    YAML ``text`` (for messages that come after validation, e.g. secrets)."""
    import re

    loc: list[str | int] = []
    for part in key.split(":")[0].split("."):
        m = re.fullmatch(r"([^\[]+)((?:\[\d+\])*)", part.strip())
        if not m:
            return None
        loc.append(m.group(1))
        loc += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    try:
        return _line_of(yaml.compose(text, Loader=yaml.SafeLoader), tuple(loc))
    except yaml.YAMLError:
        return None


def load_config(path: Path | str) -> SiteConfig:
    """Read and validate a site file; relative file paths are taken from its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"tidak bisa dibaca / cannot read: {exc.strerror}"
        raise ConfigError([(str(path), None, "", msg)]) from None
    return parse_config(text, filename=str(path), base_dir=path.parent.resolve())

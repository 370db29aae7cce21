"""Load a site YAML file and report every problem with its file and line.

The reading, the ``file:line: key: message`` errors and where secret files
are found are :mod:`protocol.configfile`'s (the same for the unit and the
admin host); this module adds the site's paths.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config.models import SiteConfig
from gateway.errors import ConfigError
from protocol.configfile import config_path, line_of_key, parse_model, read_text, secret_path

__all__ = ["line_of_key", "load_config", "parse_config"]


def parse_config(text: str, *, filename: str = "<config>", base_dir: Path | None = None) -> SiteConfig:
    """Validate YAML text; raise :class:`ConfigError` listing every problem.

    Relative secret/password file paths are resolved against ``base_dir``
    (the config file's directory); a bare name is a systemd credential when
    the gateway runs with ``$CREDENTIALS_DIRECTORY``."""
    cfg = parse_model(SiteConfig, text, filename=filename, error=ConfigError)
    if base_dir is not None:
        _resolve_paths(cfg, base_dir)
    return cfg


def _resolve_paths(cfg: SiteConfig, base: Path) -> None:
    if cfg.broker.password_file is not None:
        cfg.broker.password_file = secret_path(cfg.broker.password_file, base)
    if cfg.broker.ca_file is not None:
        cfg.broker.ca_file = config_path(cfg.broker.ca_file, base)
    if cfg.gateway.fleet_config is not None:
        cfg.gateway.fleet_config = config_path(cfg.gateway.fleet_config, base)
    for s in cfg.secrets().values():
        if s.file is not None:
            s.file = secret_path(s.file, base)


def load_config(path: Path | str) -> SiteConfig:
    """Read and validate a site file; relative file paths are taken from its folder."""
    path = Path(path)
    return parse_config(read_text(path, error=ConfigError), filename=str(path),
                        base_dir=path.parent.resolve())

"""Write the site's broker files from central's state.

The password file holds every service user and every *enabled, unrevoked*
unit: a disabled unit is simply absent, so after a reload the broker refuses
(and disconnects) it. Files are replaced atomically so a broker reading them
mid-write never sees half a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from central.broker.mosquitto import BrokerConfig, render_acl, render_config
from central.broker.passwords import write_password_file
from central.db import Database
from central.registry import Registry


@dataclass(frozen=True, slots=True)
class SitePaths:
    conf: Path
    passwd: Path
    acl: Path

    @classmethod
    def under(cls, site_dir: Path) -> SitePaths:
        return cls(conf=site_dir / "mosquitto.conf", passwd=site_dir / "passwd", acl=site_dir / "acl")


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def broker_users(db: Database, registry: Registry) -> tuple[dict[str, str], dict[str, str]]:
    """(``{user: hash}`` allowed on the broker, ``{service user: access}``)."""
    enabled = {d.id for d in registry.list() if d.enabled}
    users: dict[str, str] = {}
    services: dict[str, str] = {}
    for r in db.query("SELECT * FROM credentials WHERE revoked=0 AND hash IS NOT NULL"):
        if r["kind"] == "service":
            users[r["user"]] = r["hash"]
            services[r["user"]] = r["access"] or "readwrite"
        elif r["user"] in enabled:
            users[r["user"]] = r["hash"]
    return users, services


def write_auth_files(db: Database, registry: Registry, site_dir: Path) -> SitePaths:
    """(Re)write ``passwd`` and ``acl`` under ``site_dir``."""
    paths = SitePaths.under(site_dir)
    users, services = broker_users(db, registry)
    paths.passwd.parent.mkdir(parents=True, exist_ok=True)
    write_password_file(paths.passwd, users)
    _atomic_write(paths.acl, render_acl(services=services))
    return paths


def write_broker_config(cfg: BrokerConfig, site_dir: Path) -> Path:
    """Write ``mosquitto.conf``; password file and ACL default to the site's."""
    paths = SitePaths.under(site_dir)
    if cfg.password_file is None:
        cfg = cfg.model_copy(update={"password_file": paths.passwd})
    if cfg.acl_file is None:
        cfg = cfg.model_copy(update={"acl_file": paths.acl})
    _atomic_write(paths.conf, render_config(cfg))
    return paths.conf

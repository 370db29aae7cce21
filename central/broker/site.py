"""Write the site's broker files from central's state.

The password file holds every service user and every *enabled, unrevoked*
unit: a disabled unit is simply absent, so after a reload the broker refuses
(and disconnects) it. Files are replaced atomically so a broker reading them
mid-write never sees half a file, and keep their owner and mode, so the
broker's user (``mosquitto.run_as_user``) can still read them after a
rewrite (:mod:`central.broker.files`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from central.broker.files import write_broker_file
from central.broker.mosquitto import BrokerConfig, render_acl, render_config
from central.broker.passwords import write_password_file
from gateway.fleet.registry import Registry
from gateway.fleet.sql import FleetDB


@dataclass(frozen=True, slots=True)
class SitePaths:
    conf: Path
    passwd: Path
    acl: Path

    @classmethod
    def under(cls, site_dir: Path) -> SitePaths:
        return cls(conf=site_dir / "mosquitto.conf", passwd=site_dir / "passwd", acl=site_dir / "acl")


def broker_users(db: FleetDB, registry: Registry) -> tuple[dict[str, str], dict[str, str]]:
    """(``{user: hash}`` allowed on the broker, ``{service user: access}``)."""
    enabled = {d.id for d in registry.list() if d.enabled}
    users: dict[str, str] = {}
    services: dict[str, str] = {}
    for r in db.query("SELECT * FROM fleet_credentials WHERE revoked=0 AND hash IS NOT NULL"):
        if r["kind"] == "service":
            users[r["username"]] = r["hash"]
            services[r["username"]] = r["access"] or "readwrite"
        elif r["username"] in enabled:
            users[r["username"]] = r["hash"]
    return users, services


def write_auth_files(db: FleetDB, registry: Registry, site_dir: Path, *,
                     broker_user: str | None = None) -> SitePaths:
    """(Re)write ``passwd`` and ``acl`` under ``site_dir``, readable by
    ``broker_user`` (the user the broker drops to)."""
    paths = SitePaths.under(site_dir.absolute())
    users, services = broker_users(db, registry)
    write_password_file(paths.passwd, users, broker_user=broker_user)
    write_broker_file(paths.acl, render_acl(services=services), user=broker_user)
    return paths


def write_broker_config(cfg: BrokerConfig, site_dir: Path) -> Path:
    """Write ``mosquitto.conf``; password file and ACL default to the site's.
    Every path in it is absolute: the broker does not run in our folder."""
    paths = SitePaths.under(site_dir.absolute())
    update: dict[str, object] = {}
    for name in ("password_file", "acl_file", "persistence_dir", "log_file", "pid_file",
                 "tls_cert", "tls_key", "tls_ca"):
        value = getattr(cfg, name)
        if value is not None:
            update[name] = Path(value).absolute()
    update.setdefault("password_file", paths.passwd)
    update.setdefault("acl_file", paths.acl)
    if cfg.bridge is not None:
        b = cfg.bridge
        update["bridge"] = b.model_copy(update={
            "password_file": b.password_file.absolute(),
            "ca_file": b.ca_file.absolute() if b.ca_file else None})
    cfg = cfg.model_copy(update=update)
    write_conf(paths.conf, cfg)
    return paths.conf


def write_conf(path: Path, cfg: BrokerConfig) -> None:
    """Write ``mosquitto.conf``: world-readable unless it holds the bridge's
    password, then 0640 for the broker's group (also when it existed 0644)."""
    write_broker_file(path, render_config(cfg), user=cfg.run_as_user,
                      mode=0o640 if cfg.bridge else 0o644)
    if cfg.bridge is not None:
        path.chmod(path.stat().st_mode & 0o750)

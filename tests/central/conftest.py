"""A site as central builds it: the fleet's state in the gateway's database
(SQLite file and PostgreSQL), its generated password file and ACL, and a real
Mosquitto started from them (reload = SIGHUP via pid file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from central.context import Central
from central.provision import Provisioner
from central.settings import CentralSettings, ReloadSettings, UnitBrokerSettings
from gateway.fleet.registry import Registry
from gateway.fleet.sql import FleetDB
from protocol.mqtt import BrokerSettings
from testkit.wait import wait_for  # noqa: F401  (the central tests import it from here)
from tests.support.broker import Broker


@dataclass
class Site:
    settings: CentralSettings
    central: Central
    db: FleetDB
    registry: Registry
    prov: Provisioner
    broker: Broker
    admin_password: str
    gateway_password: str
    db_url: str
    tmp_path: Path

    def admin_broker(self) -> BrokerSettings:
        return self.settings.broker


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet_db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_databases) -> str:
    """The gateway database the fleet lives in, on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return pg_databases.new()


@pytest.fixture
def site(tmp_path: Path, broker_dir: Path, fleet_db_url: str) -> Iterator[Site]:
    site_dir = broker_dir / "site"
    broker = Broker(site_dir, secure=True)
    settings = CentralSettings(
        site_dir=site_dir,
        bundle_dir=tmp_path / "bundles",
        gateway_db_url=fleet_db_url,
        unit_broker=UnitBrokerSettings(host=broker.host, port=broker.port, tls=False),
        reload=ReloadSettings(pid_file=broker.pid_path),
    )
    central = Central.open(settings, actor="test", migrate=True)
    prov = central.prov
    admin_pw = prov.add_service("admin", reload=False)
    gw_pw = prov.add_service("gateway", reload=False)
    prov.write_files()  # central's passwd + acl replace the harness's
    settings.broker = BrokerSettings(host=broker.host, port=broker.port, username="admin",
                                     password=admin_pw, session_expiry_s=0)
    broker.start()
    try:
        yield Site(settings, central, central.db, central.registry, prov, broker, admin_pw, gw_pw,
                   fleet_db_url, tmp_path)
    finally:
        broker.kill()
        central.close()


def provision(site: Site, device: str, *, groups: list[str] | None = None) -> str:
    """Add a field unit; returns its broker password as read from its bundle."""
    from protocol.fleet import Profile

    _, bundle = site.prov.add_device(device, profile=Profile.FIELD, groups=groups)
    return bundle.password.read_text().strip()


@pytest.fixture
def fleet(site: Site):
    """The fleet service on the site's broker, notices kept in memory."""
    from gateway.fleet.notify import MemoryNotifier
    from gateway.fleet.service import FleetService

    site.settings.health.tick_s = 0.1
    ingest = start_ingest(site)
    svc = FleetService(site.db, site.registry, site.settings, notifier=MemoryNotifier())
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()
        ingest.stop()


def start_ingest(site: Site):
    """The gateway's ingest (the one consumer of unit status and telemetry)
    on the site's broker and database: no HTTP, no fleet of its own."""
    from gateway.runtime import Gateway
    from tests.gateway.support import site_config

    cfg = site_config(site.tmp_path, site.broker, username="gateway", password=site.gateway_password,
                      db_url=site.db_url)
    return Gateway(cfg, http=False, migrate=False).start()


def migrated_db_url(folder: Path) -> str:
    """A migrated gateway SQLite file (``siaga gateway migrate``, the first
    install step) for central.yaml's ``gateway_db_url``."""
    from gateway.store.db import Database

    url = f"sqlite:///{folder / 'gateway.db'}"
    gdb = Database(url)
    gdb.migrate()
    gdb.dispose()
    return url


FAST_MODEM = {"ring_interval": 0.2, "boot_delay": 0.05, "alert_delay": 0.02}


@pytest.fixture
def modem_sim():
    """A SIM800 simulator on a pty, fast timings (the real agent's modem in these tests)."""
    from firmware.sim import ModemSimulator

    s = ModemSimulator("sim800", **FAST_MODEM)
    s.start_pty()
    try:
        yield s
    finally:
        s.stop()

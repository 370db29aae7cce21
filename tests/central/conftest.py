"""A site as central builds it: central's DB, its generated password file and
ACL, and a real Mosquitto started from them (reload = SIGHUP via pid file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from central.db import Database
from central.provision import Provisioner
from central.registry import LocalRegistry
from central.settings import CentralSettings, ReloadSettings, UnitBrokerSettings
from protocol.mqtt import BrokerSettings
from testkit.wait import wait_for  # noqa: F401  (the central tests import it from here)
from tests.support.broker import Broker


@dataclass
class Site:
    settings: CentralSettings
    db: Database
    registry: LocalRegistry
    prov: Provisioner
    broker: Broker
    admin_password: str
    gateway_password: str

    def admin_broker(self) -> BrokerSettings:
        return self.settings.broker


@pytest.fixture
def site(tmp_path: Path, broker_dir: Path) -> Iterator[Site]:
    site_dir = broker_dir / "site"
    broker = Broker(site_dir, secure=True)
    settings = CentralSettings(
        db_path=tmp_path / "central.db",
        site_dir=site_dir,
        bundle_dir=tmp_path / "bundles",
        unit_broker=UnitBrokerSettings(host=broker.host, port=broker.port, tls=False),
        reload=ReloadSettings(pid_file=broker.pid_path),
    )
    db = Database(settings.db_path)
    registry = LocalRegistry(db)
    prov = Provisioner(db, registry, settings)
    admin_pw = prov.add_service("admin", reload=False)
    gw_pw = prov.add_service("gateway", reload=False)
    prov.write_files()  # central's passwd + acl replace the harness's
    settings.broker = BrokerSettings(host=broker.host, port=broker.port, username="admin",
                                     password=admin_pw, session_expiry_s=0)
    broker.start()
    try:
        yield Site(settings, db, registry, prov, broker, admin_pw, gw_pw)
    finally:
        broker.kill()
        db.close()


def provision(site: Site, device: str, *, groups: list[str] | None = None) -> str:
    """Add a field unit; returns its broker password as read from its bundle."""
    from protocol.fleet import Profile

    _, bundle = site.prov.add_device(device, profile=Profile.FIELD, groups=groups)
    return bundle.password.read_text().strip()


@pytest.fixture
def fleet(site: Site):
    """The fleet service on the site's broker, notices kept in memory."""
    from central.notify import MemoryNotifier
    from central.service import FleetService

    site.settings.health.tick_s = 0.1
    svc = FleetService(site.db, site.registry, site.settings, notifier=MemoryNotifier())
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


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

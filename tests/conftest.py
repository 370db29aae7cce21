"""Shared fixtures: a private Mosquitto per test, anonymous or secured; a
private PostgreSQL cluster per test session with a fresh database per test.

The broker runs as in production: when the suite runs as root, Mosquitto
starts as root and drops to user ``mosquitto`` (Debian's package creates it;
``scripts/bootstrap.sh`` makes sure it exists), so everything it reads lives
in a folder that user can enter (``broker_dir``; pytest's own are 0700).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.broker.files import DEFAULT_BROKER_USER, broker_ids, broker_tempdir
from central.broker.process import BrokerNotFound
from tests.support.broker import Broker, find_mosquitto
from tests.support.postgres import PostgresCluster, PostgresNotFound, find_pg_bin


def pytest_configure(config: pytest.Config) -> None:
    """Fail the whole run with one clear line when mosquitto or PostgreSQL
    is missing: the suite never skips broker or database tests silently."""
    try:
        find_mosquitto()
        find_pg_bin()
    except (BrokerNotFound, PostgresNotFound) as exc:
        raise pytest.UsageError(str(exc)) from None
    if os.geteuid() == 0 and broker_ids(DEFAULT_BROKER_USER) is None:
        raise pytest.UsageError(f"user {DEFAULT_BROKER_USER} missing: the broker drops to it when "
                                "started as root (run scripts/bootstrap.sh)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """The run's own PostgreSQL (Unix socket only, password auth), started
    on first use and stopped at the end of the session."""
    c = PostgresCluster().start()
    try:
        yield c
    finally:
        c.stop()


class PgDatabases:
    """Databases made for one test, dropped when it ends (after the
    gateways: fixtures that start gateways depend on this one)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._cluster: PostgresCluster | None = None
        self.names: list[str] = []

    @property
    def cluster(self) -> PostgresCluster:
        """Started on first use: a run without database tests starts none."""
        if self._cluster is None:
            self._cluster = self._request.getfixturevalue("pg_cluster")
        return self._cluster

    def new(self, *, driver: str = "postgresql+psycopg", password: bool = True) -> str:
        """The URL of a new empty database (Unix socket; with a password by default)."""
        name = self.cluster.create_database()
        self.names.append(name)
        return self.cluster.url(name, driver=driver, password=password)


@pytest.fixture
def pg_databases(request: pytest.FixtureRequest) -> Iterator[PgDatabases]:
    reg = PgDatabases(request)
    yield reg
    leaks = []
    for name in reg.names:
        # a backend whose client has closed exits a moment later: wait for that
        deadline = time.monotonic() + 5
        while (n := reg.cluster.connections(name)) and time.monotonic() < deadline:
            time.sleep(0.05)
        if n:
            leaks.append(f"{name}: {n}")
        reg.cluster.drop_database(name)
    assert not leaks, f"connections still open at teardown (a gateway or engine not stopped): {leaks}"


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    """A folder the broker's user can enter and read (root:mosquitto 0750 when
    the suite runs as root), removed after the test. Put there every file a
    broker must read: password file, ACL, TLS certificates."""
    d = broker_tempdir(prefix="siaga-test-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def broker(broker_dir: Path) -> Iterator[Broker]:
    """An anonymous broker on a free loopback port, stopped after the test."""
    b = Broker(broker_dir / "broker")
    b.start()
    try:
        yield b
    finally:
        b.kill()


@pytest.fixture
def secure_broker(broker_dir: Path) -> Iterator[Broker]:
    """A broker with a password file and the site ACL; user ``gateway`` has
    readwrite on ``siaga/v1/#``. Add device users with ``add_user`` + ``reload``."""
    b = Broker(broker_dir / "secure-broker", secure=True,
               users={"gateway": "gateway-test-pw"}, services={"gateway": "readwrite"})
    b.start()
    try:
        yield b
    finally:
        b.kill()


@pytest.fixture
def mock_pins() -> Iterator[object]:
    """gpiozero's MockFactory for this test only, restored in ``finally``
    (the GPIO header is one of the two things the suite simulates)."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    old = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = old


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """One line naming both database engines, so a quiet (-q) run shows that
    the database tests ran on SQLite and on PostgreSQL."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for rep in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(rep, "nodeid", "")
            if getattr(rep, "when", "call") != "call" and outcome != "error":
                continue
            params = nodeid[nodeid.find("[") + 1:] if "[" in nodeid else ""
            engine = "postgresql" if "postgresql" in params else "sqlite" if "sqlite" in params else None
            if engine:
                counts.setdefault(engine, {}).setdefault(outcome, 0)
                counts[engine][outcome] += 1
    if counts:
        parts = [f"{engine}: " + ", ".join(f"{n} {o}" for o, n in sorted(c.items()))
                 for engine, c in sorted(counts.items())]
        terminalreporter.write_line("database engines: " + "; ".join(parts))

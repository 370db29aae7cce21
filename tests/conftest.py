"""Shared fixtures: a private Mosquitto per test, anonymous or secured.

The broker runs as in production: when the suite runs as root, Mosquitto
starts as root and drops to user ``mosquitto`` (Debian's package creates it;
``scripts/bootstrap.sh`` makes sure it exists), so everything it reads lives
in a folder that user can enter (``broker_dir``; pytest's own are 0700).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.broker.files import DEFAULT_BROKER_USER, broker_ids, broker_tempdir
from central.broker.process import BrokerNotFound
from tests.support.broker import Broker, find_mosquitto


def pytest_configure(config: pytest.Config) -> None:
    """Fail the whole run with one clear line when mosquitto is missing:
    the suite never skips broker tests silently."""
    try:
        find_mosquitto()
    except BrokerNotFound as exc:
        raise pytest.UsageError(str(exc)) from None
    if os.geteuid() == 0 and broker_ids(DEFAULT_BROKER_USER) is None:
        raise pytest.UsageError(f"user {DEFAULT_BROKER_USER} missing: the broker drops to it when "
                                "started as root (run scripts/bootstrap.sh)")


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

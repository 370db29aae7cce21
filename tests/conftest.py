"""Shared fixtures: a private Mosquitto per test, anonymous or secured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from central.broker.process import BrokerNotFound
from tests.support.broker import Broker, find_mosquitto


def pytest_configure(config: pytest.Config) -> None:
    """Fail the whole run with one clear line when mosquitto is missing:
    the suite never skips broker tests silently."""
    try:
        find_mosquitto()
    except BrokerNotFound as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """An anonymous broker on a free loopback port, stopped after the test."""
    b = Broker(tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.kill()


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker with a password file and the site ACL; user ``gateway`` has
    readwrite on ``siaga/v1/#``. Add device users with ``add_user`` + ``reload``."""
    b = Broker(tmp_path / "secure-broker", secure=True,
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

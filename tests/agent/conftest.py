"""Fixtures for the unit-agent tests: mock pins swapped in and restored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.agent.support import Responder


@pytest.fixture
def mock_pins() -> Iterator[Any]:
    """gpiozero's MockFactory for this test only (restored in ``finally``)."""
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


@pytest.fixture
def responder(broker: Any) -> Iterator[Responder]:
    r = Responder(broker).start()
    try:
        yield r
    finally:
        r.stop()

"""Fixtures for the unit-agent tests (``mock_pins`` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.agent.support import Responder


@pytest.fixture
def responder(broker: Any) -> Iterator[Responder]:
    r = Responder(broker).start()
    try:
        yield r
    finally:
        r.stop()

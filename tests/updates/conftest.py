"""Fixtures for the update tests: a signed release repository on a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.support import Responder
from tests.updates.support import Centre, Release


@pytest.fixture
def release(tmp_path: Path) -> Iterator[Release]:
    r = Release(tmp_path)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def centre(broker: Any) -> Iterator[Centre]:
    c = Centre(broker)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def responder(broker: Any) -> Iterator[Responder]:
    r = Responder(broker).start()
    try:
        yield r
    finally:
        r.stop()

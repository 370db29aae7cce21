"""Fixtures: a running gateway on the test broker with a real SQLite file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.runtime import Gateway
from tests.gateway.support import OpdServer


@pytest.fixture
def opd_server() -> Iterator[OpdServer]:
    s = OpdServer()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(params=["sqlite"] + (["postgresql"] if os.environ.get("SIAGA_TEST_DATABASE_URL") else []))
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, and PostgreSQL too when
    SIAGA_TEST_DATABASE_URL is set (its tables are dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    url = os.environ["SIAGA_TEST_DATABASE_URL"]
    from sqlalchemy import text

    from gateway.store.db import make_engine

    def reset() -> None:
        eng = make_engine(url)
        with eng.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()

    reset()
    yield url
    reset()


@pytest.fixture
def start_gateway() -> Iterator:
    """``start_gateway(cfg)`` -> a started Gateway, stopped after the test."""
    started: list[Gateway] = []

    def _start(cfg, **kw) -> Gateway:
        gw = Gateway(cfg, **kw).start()
        started.append(gw)
        return gw

    yield _start
    for gw in reversed(started):
        gw.stop()

"""Fixtures: a running gateway on the test broker with a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.runtime import Gateway
from gateway.store.db import Database
from tests.gateway.support import OpdServer


@pytest.fixture
def opd_server() -> Iterator[OpdServer]:
    s = OpdServer()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_databases) -> str:
    """A fresh database on each engine: a SQLite file, and a new database in
    the run's private PostgreSQL (dropped after the test's gateways stop)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return pg_databases.new()


@pytest.fixture
def start_gateway(pg_databases) -> Iterator:
    """``start_gateway(cfg)`` -> a started Gateway, stopped after the test
    (before the test's PostgreSQL databases are dropped)."""
    started: list[Gateway] = []

    def _start(cfg, **kw) -> Gateway:
        gw = Gateway(cfg, **kw).start()
        started.append(gw)
        return gw

    yield _start
    for gw in reversed(started):
        gw.stop()


@pytest.fixture
def migrated_db(db_url: str) -> Iterator[Database]:
    """A fresh database on each engine, migrated to the head."""
    d = Database(db_url)
    d.migrate()
    yield d
    d.dispose()

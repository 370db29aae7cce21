"""A real browser (Debian's Chromium, driven by Playwright) for the pages."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

# the fleet site (gateway database, broker files from central) and the modem simulator, for
# the fleet page tests with a real unit agent
from tests.central.conftest import fleet_db_url, modem_sim, site  # noqa: F401


def chromium_path() -> str:
    path = os.environ.get("SIAGA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium not found: run `make test` (it installs it) or "
                           "`sudo apt-get install chromium`")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def gateway(tmp_path, broker) -> Iterator:
    """A started gateway on the test broker with a SQLite file (the test site)."""
    from gateway.runtime import Gateway
    from tests.gateway.support import site_config

    gw = Gateway(site_config(tmp_path, broker)).start()
    try:
        yield gw
    finally:
        gw.stop()

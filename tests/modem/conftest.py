"""Fixtures: a simulated modem on a real pty (or TCP) and the real driver on it."""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Iterator

import pytest

from firmware.modem import Modem
from firmware.modem.events import ModemEvent
from firmware.sim import ModemSimulator
from testkit.wait import until  # noqa: F401  (the modem tests import it from here)

#: generous: a loaded 2-core machine must never fail a wait
WAIT = 10.0

FAST = {"ring_interval": 0.2, "boot_delay": 0.05, "alert_delay": 0.02}


def modem_for(url: str, profile: str = "sim800", **kw) -> Modem:
    opts = {"command_timeout": 2.0, "watchdog_interval": 30.0, "boot_timeout": 2.0,
            "backoff": (0.05, 0.2), "clip_wait": 0.1, "reset_pulse": 0.1}
    opts.update(kw)
    return Modem(url, profile=profile, **opts)


def wait_for(events: queue.Queue, kind: type, timeout: float = WAIT, where=None) -> ModemEvent:
    """The next event of ``kind`` (matching ``where``); others are kept in ``seen``."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind.__name__} event within {timeout}s")
        try:
            ev = events.get(timeout=left)
        except queue.Empty:
            continue
        if isinstance(ev, kind) and (where is None or where(ev)):
            return ev


def drain(events: queue.Queue) -> list[ModemEvent]:
    out = []
    while True:
        try:
            out.append(events.get_nowait())
        except queue.Empty:
            return out


@contextlib.contextmanager
def running(sim: ModemSimulator, profile: str | None = None, **kw) -> Iterator[Modem]:
    """Start the simulator on a pty and a driver on it; stop both afterwards."""
    sim.start_pty()
    m = modem_for(sim.url, profile or sim.profile.driver, **kw)
    m.start()
    try:
        yield m
    finally:
        m.close()
        sim.stop()


def sweep_done(sim: ModemSimulator) -> bool:
    """The driver's stored-SMS sweep (PDU-mode listing, then back to text mode) is over."""
    return "AT+CMGL=4" in sim.commands and sim.s["cmgf"] == 1


@pytest.fixture(params=["sim800", "sim7600"])
def profile(request) -> str:
    return request.param


@pytest.fixture
def sim(request) -> ModemSimulator:
    profile = getattr(request, "param", None) or "sim800"
    s = ModemSimulator(profile, **FAST)
    s.start_pty()
    yield s
    s.stop()


@pytest.fixture
def modem(sim):
    m = modem_for(sim.url, sim.profile.driver)
    m.start()
    yield m
    m.close()


@pytest.fixture
def pair(profile):
    """(sim, modem) for each profile."""
    s = ModemSimulator(profile, **FAST)
    s.start_pty()
    m = modem_for(s.url, profile)
    m.start()
    yield s, m
    m.close()
    s.stop()

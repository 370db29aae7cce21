"""Against a real modem on the bench: set SIAGA_MODEM_URL (e.g. /dev/ttyS0 or
/dev/ttyUSB2) and optionally SIAGA_MODEM_PROFILE. Skipped when no modem is
attached, as gpiozero's real-pin tests are; everything here also runs
against the simulator in the other files."""

from __future__ import annotations

import os

import pytest

from firmware.modem import Modem

URL = os.environ.get("SIAGA_MODEM_URL")
pytestmark = pytest.mark.skipif(not URL, reason="no real modem (set SIAGA_MODEM_URL)")


@pytest.fixture
def real_modem():
    m = Modem(URL, profile=os.environ.get("SIAGA_MODEM_PROFILE", "sim800"), watchdog_interval=30)
    m.start()
    yield m
    m.close()


def test_real_modem_self_test(real_modem):
    report = real_modem.self_test()
    assert report["responds"] is True
    assert report["errors"] == [] or not report["sim_ready"]


def test_real_modem_status(real_modem):
    from protocol.fleet import Registration

    assert real_modem.registration() in {r.value for r in Registration}
    dbm = real_modem.signal()
    assert dbm is None or -113 <= dbm <= -51

"""Other makers' modems: how calls end, and init that degrades instead of failing.

Each simulator profile reproduces what a real part of that maker prints:
Huawei ``^CEND``, ZTE/Qualcomm ``HANGUP: 1``, a phone that reports no call
end at all (only ``AT+CLCC`` polling finds it), Wavecom's ``+CPIN: READY``
with no ``OK``.
"""

from __future__ import annotations

import threading
import time

import pytest

from firmware.modem.events import CallActive, CallEnded, CallState, EndReason, Ringing
from firmware.sim import ModemSimulator
from tests.modem.conftest import FAST, running, until, wait_for

CALLER = "+6281234567890"


@pytest.fixture
def maker(request):
    """(sim, modem) for a profile given as the parameter; extra driver options in ``opts``."""
    profile, opts = request.param
    sim = ModemSimulator(profile, **FAST)
    with running(sim, **opts) as m:
        yield sim, m


def _answered_call(sim, m) -> None:
    sim.incoming_call(CALLER)
    assert wait_for(m.events, Ringing).number == CALLER
    assert m.answer()
    wait_for(m.events, CallActive)


@pytest.mark.parametrize("maker", [("huawei", {"clcc_poll": 0}), ("zte", {"clcc_poll": 0})],
                         indirect=True, ids=["huawei-CEND", "zte-HANGUP"])
def test_vendor_end_urc_ends_the_call_without_polling(maker):
    sim, m = maker
    _answered_call(sim, m)
    sim.remote_hangup()
    ended = wait_for(m.events, CallEnded)
    assert ended.reason is EndReason.REMOTE_HANGUP and ended.answered
    assert m.call_state is CallState.IDLE
    assert "AT+CLCC" not in sim.commands  # the URC alone did it


@pytest.mark.parametrize("maker", [("huawei", {"clcc_poll": 0})], indirect=True)
def test_huawei_busy_cause_names_the_reason(maker):
    sim, m = maker
    m.dial("+628999")
    until(lambda: sim.call_state == "alerting")
    sim.remote_busy()
    assert wait_for(m.events, CallEnded).reason is EndReason.BUSY  # ^CEND cause 17


POLL = 0.5


@pytest.mark.parametrize("maker", [("phone", {"clcc_poll": POLL})], indirect=True)
def test_phone_that_reports_nothing_ends_by_clcc_polling(maker):
    sim, m = maker
    assert m.init_report["AT+CLCC=1"].startswith("refused")  # no call URCs on this part
    _answered_call(sim, m)
    sim.remote_hangup()  # the phone prints nothing at all
    hung_up = time.monotonic()
    ended = wait_for(m.events, CallEnded, timeout=POLL + 5.0)
    latency = time.monotonic() - hung_up
    assert ended.reason is EndReason.REMOTE_HANGUP and ended.answered
    assert "AT+CLCC" in sim.commands and m._calls.ended_by_poll == 1
    # within one polling interval (plus generous scheduling slack on a loaded machine)
    assert latency < POLL + 1.5, latency


@pytest.mark.parametrize("maker", [("phone", {"clcc_poll": POLL})], indirect=True)
def test_caller_giving_up_on_a_silent_phone_is_abandoned(maker):
    sim, m = maker
    sim.incoming_call(CALLER)
    wait_for(m.events, Ringing)
    sim.remote_hangup()
    assert wait_for(m.events, CallEnded).reason is EndReason.ABANDONED


@pytest.mark.parametrize("maker", [("sim800", {"max_call": 0.6, "clcc_poll": 0})], indirect=True)
def test_call_nobody_ends_is_ended_by_the_limit(maker):
    sim, m = maker
    _answered_call(sim, m)
    ended = wait_for(m.events, CallEnded)
    assert ended.reason is EndReason.MAX_DURATION and ended.answered
    assert "ATH" in sim.commands and sim.call_state == "idle"
    assert m.counters["calls_over_limit"] == 1


def test_modem_without_clcc_stops_being_polled_and_the_limit_still_ends_the_call():
    sim = ModemSimulator("phone", **FAST)
    sim.refuse_commands = {"AT+CLCC"}
    with running(sim, clcc_poll=0.1, max_call=2.0) as m:
        _answered_call(sim, m)
        assert until(lambda: m._callwatch.poll_interval == 0)  # three refusals: polling off
        polls = sim.commands.count("AT+CLCC")
        assert polls == 3 and m.call_state is CallState.ACTIVE
        assert wait_for(m.events, CallEnded).reason is EndReason.MAX_DURATION
        assert sim.commands.count("AT+CLCC") == polls


def test_connect_after_atd_is_an_answered_call():
    sim = ModemSimulator("sim800", atd_waits=True, **FAST)
    with running(sim) as m:
        t = threading.Thread(target=m.dial, args=("+628777",))
        t.start()
        assert until(lambda: sim.call_state == "alerting")
        sim.remote_answer()  # ATD's final comes now: CONNECT
        t.join(5)
        active = wait_for(m.events, CallActive)
        assert active.direction == "outgoing" and m.call_state is CallState.ACTIVE
        m.hang_up()
        assert wait_for(m.events, CallEnded).reason is EndReason.LOCAL_HANGUP


@pytest.mark.parametrize("maker", [("wavecom", {})], indirect=True)
def test_init_without_ok_after_cpin_succeeds_and_self_test_names_it(maker):
    _sim, m = maker
    assert m.init_report["AT+CPIN?"] == "ok (no final result code)"
    report = m.self_test()
    assert report["sim_ready"] is True and report["responds"] is True
    assert "AT+CPIN?: ok (no final result code)" in report["quirks"]
    assert report["init"]["AT+CMGF=1"] == "ok"
    assert m.signal() == -73  # the channel is in step after the missing OK


def test_optional_step_that_times_out_does_not_abort_init():
    sim = ModemSimulator("sim800", **FAST)
    sim.ignore_commands = {"AT+CSDH"}
    with running(sim, command_timeout=0.5) as m:
        assert m.init_report["AT+CSDH=1"] == "timeout"
        assert m.init_report["AT+CNMI=2,1,0,0,0"] == "ok"  # init went on after it
        assert "AT+CSDH=1: timeout" in m.self_test()["quirks"]

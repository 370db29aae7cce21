"""Voice calls through real pty I/O: the driver against the simulator, both profiles."""

from __future__ import annotations

import pytest

from firmware.modem import ModemCommandError, ModemError, ModemStateError
from firmware.modem.events import (
    Alerting,
    CallActive,
    CallEnded,
    CallState,
    Dialling,
    EndReason,
    ModemRestarted,
    Ringing,
)
from firmware.sim import ModemSimulator
from tests.modem.conftest import FAST, drain, modem_for, until, wait_for

CALLER = "+6281234567890"


def test_incoming_call_answer_remote_hangup(pair):
    sim, m = pair
    sim.incoming_call(CALLER)
    ring = wait_for(m.events, Ringing)
    assert ring.number == CALLER
    assert m.call_state is CallState.RINGING

    assert m.answer() is True
    active = wait_for(m.events, CallActive)
    assert active.number == CALLER and active.direction == "incoming"
    assert m.call_state is CallState.ACTIVE
    assert sim.call_state == "active"

    until(lambda: False, timeout=0.2)  # let the call last a little
    sim.remote_hangup()
    ended = wait_for(m.events, CallEnded)
    assert ended.reason is EndReason.REMOTE_HANGUP
    assert ended.answered is True
    assert ended.number == CALLER
    assert ended.duration_s >= 0.2
    assert m.call_state is CallState.IDLE
    # the several reports of one hang-up (NO CARRIER, +CLCC 6, VOICE CALL: END) end it once
    until(lambda: False, timeout=0.2)
    assert not [e for e in drain(m.events) if isinstance(e, CallEnded)]


def test_modem_reboots_mid_call(pair):
    sim, m = pair
    sim.incoming_call(CALLER)
    wait_for(m.events, Ringing)
    m.answer()
    wait_for(m.events, CallActive)

    sim.reboot()  # brownout: no NO CARRIER, just RDY after a while
    ended = wait_for(m.events, CallEnded)
    assert ended.reason is EndReason.MODEM_RESET
    assert ended.answered is True
    restarted = wait_for(m.events, ModemRestarted)
    assert restarted.reason == "unexpected_rdy"
    assert m.resets == 1
    # re-initialised: the simulator lost its settings in the reboot and got them again
    # (the stored-SMS sweep after a restart reads in PDU mode and then restores text mode)
    assert until(lambda: sim.s["cmgf"] == 1)
    assert sim.s["echo"] is False and sim.s["clip"] == 1
    assert m.call_state is CallState.IDLE
    # and it works: the next call rings with caller id
    sim.incoming_call("+628999")
    assert wait_for(m.events, Ringing).number == "+628999"


def test_caller_gives_up_while_ringing(pair):
    sim, m = pair
    sim.incoming_call(CALLER)
    wait_for(m.events, Ringing)
    sim.remote_hangup()
    ended = wait_for(m.events, CallEnded)
    assert ended.reason is EndReason.ABANDONED
    assert ended.answered is False and ended.duration_s == 0.0


def test_local_hangup_of_active_call(pair):
    sim, m = pair
    sim.incoming_call(CALLER)
    wait_for(m.events, Ringing)
    m.answer()
    wait_for(m.events, CallActive)
    m.hang_up()
    ended = wait_for(m.events, CallEnded)
    assert ended.reason is EndReason.LOCAL_HANGUP
    assert sim.call_state == "idle"


def test_reject_ringing_call(modem, sim):
    sim.incoming_call(CALLER)
    wait_for(modem.events, Ringing)
    modem.hang_up()
    ended = wait_for(modem.events, CallEnded)
    assert ended.reason is EndReason.LOCAL_HANGUP and ended.answered is False
    assert sim.call_state == "idle"


def test_withheld_caller_id_still_rings(modem, sim):
    sim.incoming_call(None)
    ring = wait_for(modem.events, Ringing)
    assert ring.number is None
    assert modem.answer() is True


def test_answer_after_caller_left(modem, sim):
    sim.incoming_call(CALLER)
    wait_for(modem.events, Ringing)
    # the caller is gone on the network side, and the modem never said so
    with sim._lock:
        sim._sched.cancel(sim._ring_job)
        sim._call = None
    assert modem.answer() is False
    assert wait_for(modem.events, CallEnded).reason is EndReason.ABANDONED


def test_answer_with_nothing_ringing_is_refused(modem):
    with pytest.raises(ModemStateError):
        modem.answer()


def test_outgoing_call_alerting_active_remote_hangup(pair):
    sim, m = pair
    m.dial("112")
    assert wait_for(m.events, Dialling).number == "112"
    wait_for(m.events, Alerting)
    assert until(lambda: sim.call_state == "alerting")
    sim.remote_answer()
    active = wait_for(m.events, CallActive)
    assert active.direction == "outgoing"
    sim.remote_hangup()
    ended = wait_for(m.events, CallEnded)
    assert ended.reason is EndReason.REMOTE_HANGUP and ended.direction == "outgoing"
    assert sim.dialled == ["112"]


@pytest.mark.parametrize("clcc_first", [False, True], ids=["final-first", "clcc-first"])
@pytest.mark.parametrize(
    ("action", "reason"),
    [("remote_busy", EndReason.BUSY), ("remote_no_answer", EndReason.NO_ANSWER),
     ("remote_hangup", EndReason.NO_CARRIER)],
)
def test_outgoing_call_failures(clcc_first, action, reason):
    """BUSY / NO ANSWER name the reason whichever of them and +CLCC 6 comes first."""
    sim = ModemSimulator("sim800", clcc_before_final=clcc_first, **FAST)
    sim.start_pty()
    m = modem_for(sim.url)
    m.start()
    try:
        m.dial("+62215550100")
        wait_for(m.events, Alerting)
        getattr(sim, action)()
        ended = wait_for(m.events, CallEnded)
        assert ended.reason is reason
        assert ended.answered is False
    finally:
        m.close()
        sim.stop()


def test_dial_without_network_is_no_dialtone(modem, sim):
    sim.set_registered(False)
    with pytest.raises(ModemCommandError) as err:
        modem.dial("112")
    assert err.value.result == "NO DIALTONE"
    assert wait_for(modem.events, CallEnded).reason is EndReason.NO_DIALTONE


def test_dial_refuses_bad_number_and_busy_line(modem, sim):
    with pytest.raises(ModemStateError):
        modem.dial("112; AT+CFUN=0")
    sim.incoming_call(CALLER)
    wait_for(modem.events, Ringing)
    with pytest.raises(ModemStateError):
        modem.dial("112")
    assert sim.dialled == []


def test_call_over_tcp_socket():
    """``socket://`` works the same as a serial port."""
    sim = ModemSimulator("sim7600", **FAST)
    url = sim.start_tcp()
    assert url.startswith("socket://127.0.0.1:")
    m = modem_for(url, "sim7600")
    m.start()
    try:
        sim.incoming_call(CALLER)
        assert wait_for(m.events, Ringing).number == CALLER
        m.answer()
        wait_for(m.events, CallActive)
        sim.remote_hangup()
        assert wait_for(m.events, CallEnded).reason is EndReason.REMOTE_HANGUP
    finally:
        m.close()
        sim.stop()


def test_dial_that_times_out_does_not_stay_dialling(sim):
    m = modem_for(sim.url, dial_timeout=0.3)
    m.start()
    try:
        sim.go_silent(True)
        with pytest.raises(ModemError):
            m.dial("112")
        ended = wait_for(m.events, CallEnded)
        assert ended.reason is EndReason.ERROR
        assert m.call_state is CallState.IDLE
    finally:
        m.close()

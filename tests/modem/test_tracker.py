"""The call state machine alone, on arbitrary sequences of modem reports."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.modem.calls import CallTracker
from firmware.modem.events import CallActive, CallEnded, CallState, Dialling, EndReason, Ringing
from firmware.modem.parser import Final

STEPS = st.sampled_from([
    ("ring",), ("clip", "+628123"), ("clip", None),
    ("clcc", ["1", "1", "4", "0", "0", "+628123", "145"]),
    ("clcc", ["1", "0", "2", "0", "0", "112", "129"]),
    ("clcc", ["1", "0", "3", "0", "0", "112", "129"]),
    ("clcc", ["1", "1", "0", "0", "0", "+628123", "145"]),
    ("clcc", ["1", "0", "6", "0", "0", "112", "129"]),
    ("clcc", ["1", "1", "6", "0", "0", "+628123", "145"]),
    ("clcc", ["x"]), ("final", Final.NO_CARRIER), ("final", Final.BUSY),
    ("final", Final.NO_ANSWER), ("begin",), ("end", 5.0), ("dial", "112"), ("activate",),
    ("local",), ("reset",), ("tick",), ("alerting",), ("limit",),
    # a polled AT+CLCC answer (the call list), current or about an earlier call
    ("list", [], True), ("list", [["1", "1", "0", "0", "0"]], True),
    ("list", [["1", "0", "3", "0", "0"]], True), ("list", [["1", "1", "6", "0", "0"]], True),
    ("list", [], False), ("list", [["x"]], True),
])


@settings(max_examples=400, deadline=None)
@given(st.lists(STEPS, max_size=40))
def test_any_report_sequence_keeps_the_call_story_consistent(steps):
    now = [0.0]
    events = []
    t = CallTracker(events.append, clip_wait=0.3, clock=lambda: now[0])
    for step in steps:
        now[0] += 1.0
        kind = step[0]
        if kind == "ring":
            t.on_ring()
        elif kind == "clip":
            t.on_clip(step[1])
        elif kind == "clcc":
            t.on_clcc(list(step[1]))
        elif kind == "final":
            t.on_final(step[1])
        elif kind == "begin":
            t.on_voice_begin()
        elif kind == "end":
            t.on_voice_end(step[1])
        elif kind == "dial":
            if t.state is CallState.IDLE:
                t.dialling(step[1])
        elif kind == "activate":
            t.activate()
        elif kind == "local":
            t.begin_local_hangup()
            t.local_hangup()
        elif kind == "reset":
            t.fail(EndReason.MODEM_RESET)
        elif kind == "alerting":
            t.on_alerting()
        elif kind == "limit":
            t.begin_local_hangup(EndReason.MAX_DURATION)
            t.local_hangup()
        elif kind == "list":
            t.on_clcc_list([list(f) for f in step[1]], t.generation if step[2] else t.generation - 1)
        else:
            t.tick()
    now[0] += 1.0
    t.tick()  # the supervisor ticks: a RING without caller id is announced after clip_wait
    # every call: one start (Ringing or Dialling), at most one CallActive, then one CallEnded
    open_call = False
    active = False
    for ev in events:
        if isinstance(ev, Dialling):
            assert not open_call
            open_call, active = True, False
        elif isinstance(ev, Ringing):
            if not open_call:
                open_call, active = True, False
        elif isinstance(ev, CallActive):
            assert open_call and not active
            active = True
        elif isinstance(ev, CallEnded):
            assert open_call
            assert ev.answered == active
            assert ev.duration_s >= 0 and (ev.duration_s > 0) == active
            open_call = False
    assert open_call == (t.state is not CallState.IDLE)


def test_importing_the_driver_and_simulator_cli_stays_light():
    """No pyserial or gpiozero until a port is opened or a reset pin pulsed
    (the root CLI imports firmware.sim.cli on every ``siaga`` call)."""
    code = ("import sys, firmware.modem, firmware.sim.cli; "
            "bad = [m for m in ('serial', 'gpiozero') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

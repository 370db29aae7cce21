"""Done-when: real agent processes under a restarting supervisor, a real
broker, a real HTTP server: v1 -> v2 confirmed (its download cut halfway and
resumed with Range); a v3 whose self-test fails rolls back to v2 by itself
and says why; the unit keeps delivering."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from firmware.agent import bootguard as bg
from tests.updates.support import (
    BROKEN_SELF_TEST,
    Supervisor,
    ask,
    factory_install,
    state,
    unit_config,
    wait_for,
)

DEV = "box-001"


def press_delivered(tmp: Path, responder: Any) -> str:
    """Press the fire button; the incident must reach the centre and be acked."""
    reply = wait_for(lambda: _press(tmp), 30, what="press recorded")
    ref = reply.split()[1]
    wait_for(lambda: ref in responder.stored, 30, what=f"incident {ref} at the centre")
    return ref


def _press(tmp: Path) -> str | None:
    try:
        r = ask(tmp / "ctl.sock", "press fire", timeout=10)
    except OSError:
        return None
    return r if r.startswith("recorded") else None


def test_v1_to_v2_confirmed_then_failing_v3_rolls_back(tmp_path: Path, broker: Any, release: Any,
                                                        centre: Any, responder: Any) -> None:
    release.publish("1.0.0")
    release.publish("2.0.0")
    release.publish("3.0.0", patches={"firmware/agent/health.py": BROKEN_SELF_TEST})
    upd = tmp_path / "update"
    factory_install(release, upd, "1.0.0")
    cfg = unit_config(tmp_path, broker, release, confirm_s=8)
    sup = Supervisor(cfg, upd, tmp_path / "agent.log").start()
    try:
        wait_for(lambda: centre.firmware(DEV) == "1.0.0", 60, what="v1 online")
        press_delivered(tmp_path, responder)

        wheel2 = "siaga112-2.0.0-py3-none-any.whl"
        release.handler.cut_once.add(wheel2)  # the first download of v2 is cut halfway
        t0 = time.monotonic()
        res = centre.command(DEV, "update", {"version": "2.0.0"})
        assert res.status == "ok", res
        assert res.result["accepted"] == "2.0.0"
        wait_for(lambda: centre.update_state(DEV) == ("2.0.0", "confirmed", None), 120,
                 what="v2 confirmed")
        took = time.monotonic() - t0
        # the cut download resumed where it stopped, with an HTTP Range request
        gets = [rng for path, rng in release.handler.log if path.endswith(wheel2)]
        assert gets[0] is None and len(gets) == 2 and gets[1].startswith("bytes=") and gets[1] != "bytes=0-"
        assert centre.firmware(DEV) == "2.0.0"
        states = [s for d, v, s, _ in centre.updates if v == "2.0.0"]
        assert states.index("downloading") < states.index("installed") < states.index("confirmed")
        v2_slot = bg.current_target(upd)
        assert v2_slot == (upd / "slots" / "b").resolve()
        press_delivered(tmp_path, responder)
        print(f"update v1 -> v2 confirmed in {took:.1f} s")

        res = centre.command(DEV, "update", {"version": "3.0.0"})
        assert res.status == "ok", res
        wait_for(lambda: (centre.update_state(DEV) or ("", "", ""))[:2] == ("3.0.0", "rolled_back"), 120,
                 what="v3 rolled back")
        _, _, error = centre.update_state(DEV)
        assert "self-test failed" in error and "broken_build" in error
        wait_for(lambda: centre.firmware(DEV) == "2.0.0", 60, what="v2 running again")
        assert bg.current_target(upd) == v2_slot
        assert state(upd)["phase"] == "rolled_back"
        press_delivered(tmp_path, responder)
        # v3 really ran (and failed its check) before the rollback: not refused up front
        assert "3.0.0" in [v for _, v, s, _ in centre.updates if s == "installed"]
    finally:
        sup.stop()
    assert os.path.realpath(upd / "current") == str(v2_slot)


#: appended to firmware/agent/main.py in a build that dies at every start
CRASH_AT_START = '''

def run(config, *, check=False):
    raise SystemExit("broken build: exits before the agent starts")
'''


def test_a_version_that_crashes_at_start_is_rolled_back_by_the_boot_guard(
        tmp_path: Path, broker: Any, release: Any, centre: Any, responder: Any) -> None:
    release.publish("1.0.0")
    release.publish("2.0.0", patches={"firmware/agent/main.py": CRASH_AT_START})
    upd = tmp_path / "update"
    v1_slot = factory_install(release, upd, "1.0.0").resolve()
    cfg = unit_config(tmp_path, broker, release, confirm_s=120, max_attempts=2)
    sup = Supervisor(cfg, upd, tmp_path / "agent.log").start()
    try:
        wait_for(lambda: centre.firmware(DEV) == "1.0.0", 60, what="v1 online")
        assert centre.command(DEV, "update", {"version": "2.0.0"}).status == "ok"
        # v2 never gets to say anything; the guard counts its starts and gives up after two
        wait_for(lambda: (centre.update_state(DEV) or ("", ""))[:2] == ("2.0.0", "rolled_back"), 120,
                 what="2.0.0 rolled back")
        assert "did not confirm in 2 start(s)" in centre.update_state(DEV)[2]
        assert centre.firmware(DEV) == "1.0.0" and bg.current_target(upd) == v1_slot
        assert "broken build" in sup.tail()
        press_delivered(tmp_path, responder)
    finally:
        sup.stop()


def test_bytecode_cache_starts_over_when_the_slot_changes(tmp_path: Path) -> None:
    """The agent writes its own bytecode cache (-OO, -X pycache_prefix): what
    it wrote under one slot, stale or tampered with, never outlives a switch."""
    cache = tmp_path / "pycache"
    args = ["-OO", "-X", f"pycache_prefix={cache}", "-m", "firmware.agent"]
    a, b = tmp_path / "slot-a", tmp_path / "slot-b"
    assert bg.fresh_pycache(args, a) == cache
    planted = cache / "usr" / "lib" / "python3" / "os.opt-2.pyc"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"written while slot a ran")
    assert bg.fresh_pycache(args, a) is None and planted.exists()  # same slot: kept (fast starts)
    assert bg.fresh_pycache(args, b) == cache and not planted.exists()  # an update: started over
    assert bg.fresh_pycache(args, a) == cache  # a rollback too
    assert bg.fresh_pycache(["-m", "firmware.agent"], b) is None  # no cache asked for: nothing touched

"""Done-when: a SIGKILL at every step of the updater (download, verify,
install, switch, confirm) leaves the unit running one complete version and
still delivering incidents. The agent runs under the supervisor (systemd's
``Restart=always``) through the boot guard, as on a Pi."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firmware.agent import bootguard as bg
from tests.updates.support import Supervisor, ask, factory_install, state, unit_config, wait_for

DEV = "box-001"


def _delivered(tmp: Path, responder: Any) -> None:
    def press() -> str | None:
        try:
            r = ask(tmp / "ctl.sock", "press fire", timeout=10)
        except OSError:
            return None
        return r if r.startswith("recorded") else None
    ref = wait_for(press, 40, what="press recorded").split()[1]
    wait_for(lambda: ref in responder.stored, 40, what=f"incident {ref} delivered")


def _runs_complete(centre: Any, upd: Path, version: str) -> None:
    wait_for(lambda: centre.firmware(DEV) == version, 60, what=f"{version} online")
    slot = bg.current_target(upd)
    assert slot is not None and (slot / "bin" / "python").exists()
    assert any(slot.glob(f"lib/python*/site-packages/siaga112-{version}.dist-info"))


def _kill_in(sup: Supervisor, upd: Path, phase: str, version: str) -> None:
    wait_for(lambda: state(upd).get("phase") == phase and state(upd).get("version") == version, 60,
             interval=0.02, what=f"phase {phase}")
    before = sup.starts
    sup.kill_agent()
    wait_for(lambda: sup.starts > before, 20, what="supervisor restart")


def test_sigkill_at_every_step(tmp_path: Path, broker: Any, release: Any, centre: Any,
                               responder: Any) -> None:
    for v in ("1.0.0", "2.0.0", "3.0.0"):
        release.publish(v)
    upd = tmp_path / "update"
    factory_install(release, upd, "1.0.0")
    cfg = unit_config(tmp_path, broker, release, confirm_s=60, test_pause_s=1.5)
    sup = Supervisor(cfg, upd, tmp_path / "agent.log").start()
    try:
        _runs_complete(centre, upd, "1.0.0")
        # before the switch: the old slot never stopped being current
        for phase in ("downloading", "verifying", "installing"):
            assert centre.command(DEV, "update", {"version": "2.0.0"}).status == "ok"
            _kill_in(sup, upd, phase, "2.0.0")
            wait_for(lambda: state(upd).get("phase") == "failed", 40, what="interrupted recorded")
            assert f"interrupted while {phase}" in state(upd)["error"]
            _runs_complete(centre, upd, "1.0.0")
            wait_for(lambda p=phase: centre.update_state(DEV) == ("2.0.0", "failed",
                                                                  f"terputus / interrupted while {p}"),
                     30, what="failure reported")
            _delivered(tmp_path, responder)
        # in the switch: the new slot was complete before "switching" was written;
        # the boot guard finishes the flip and the new version goes on trial
        assert centre.command(DEV, "update", {"version": "2.0.0"}).status == "ok"
        _kill_in(sup, upd, "switching", "2.0.0")
        wait_for(lambda: centre.update_state(DEV) == ("2.0.0", "confirmed", None), 90, what="2.0.0 confirmed")
        _runs_complete(centre, upd, "2.0.0")
        _delivered(tmp_path, responder)
        # in the confirmation: the new version restarts, is still on trial, confirms
        assert centre.command(DEV, "update", {"version": "3.0.0"}).status == "ok"
        _kill_in(sup, upd, "trial", "3.0.0")
        wait_for(lambda: state(upd).get("phase") in ("confirmed", "rolled_back"), 90, what="trial decided")
        assert state(upd)["phase"] == "confirmed", state(upd)  # one kill is within max_attempts (3)
        assert state(upd)["attempts"] == 2
        _runs_complete(centre, upd, "3.0.0")
        _delivered(tmp_path, responder)
    finally:
        sup.stop()

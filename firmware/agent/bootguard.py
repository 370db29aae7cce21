"""The boot guard: runs before every agent start and picks the slot to run.

Why a separate, stdlib-only script: a new version that crashes at import,
hangs, or never gets healthy cannot be trusted to roll itself back. systemd
starts this file with the system Python (``ExecStart=/usr/bin/python3 -I
/opt/siaga/bootguard.py --state /var/lib/siaga/update -- -m firmware.agent
...``); it counts the starts of a version on trial and, past the attempt
limit or the health deadline, points ``current`` back at the previous slot
before it execs the agent. It execs the *resolved* slot path, so a running
agent never sees a later symlink flip under its feet.

The state file and the symlink are also written by the updater in the agent
(``firmware/agent/updater.py`` imports these helpers): one format, one place.
Every write is atomic (temp file or temp symlink, fsync, rename, fsync dir),
so a SIGKILL or power cut at any instant leaves the old or the new state.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

STATE = "state.json"
CURRENT = "current"
#: phases after which ``current`` may point at the new slot
TRIAL_PHASES = ("switching", "trial")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_state(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / STATE).read_text())
        return data if isinstance(data, dict) else {"phase": "idle"}
    except (OSError, ValueError):
        return {"phase": "idle"}


def save_state(root: Path, state: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (STATE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(state, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / STATE)
    _fsync_dir(root)


def current_target(root: Path) -> Path | None:
    link = root / CURRENT
    try:
        return Path(os.path.realpath(link)) if link.is_symlink() else None
    except OSError:
        return None


def point_current(root: Path, target: Path) -> None:
    """Atomically repoint ``current`` (a symlink rename is atomic on POSIX)."""
    tmp = root / (CURRENT + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(str(target), tmp)
    os.replace(tmp, root / CURRENT)
    _fsync_dir(root)


def roll_back(root: Path, state: dict[str, Any], reason: str) -> dict[str, Any]:
    """Point ``current`` at the previous slot and record why (idempotent)."""
    previous = state.get("previous")
    if previous:
        point_current(root, Path(previous))
    state = dict(state, phase="rolled_back", error=reason[:200], at=time.time(), reported=False)
    save_state(root, state)
    return state


def guard(root: Path, *, now: float | None = None) -> dict[str, Any]:
    """One start of the agent: count trial attempts, roll back when due."""
    state = load_state(root)
    phase = state.get("phase")
    if phase not in TRIAL_PHASES:
        return state
    now = time.time() if now is None else now
    if phase == "switching" and state.get("target"):
        # killed between the state write and the flip, or right after it: the
        # new slot was complete before "switching" was written; finish the flip
        point_current(root, Path(state["target"]))
    attempts = int(state.get("attempts", 0)) + 1
    limit = int(state.get("max_attempts", 3))
    if attempts > limit:
        return roll_back(root, state, f"versi baru gagal mulai / new version did not confirm in "
                                      f"{limit} start(s)")
    if now > float(state.get("deadline", now + 1)):
        return roll_back(root, state, "kesehatan tidak terkonfirmasi tepat waktu / health not "
                                      "confirmed before the deadline")
    state = dict(state, phase="trial", attempts=attempts)
    save_state(root, state)
    return state


PYCACHE_FLAG = "pycache_prefix="
PYCACHE_MARK = ".slot"


def fresh_pycache(args: list[str], slot: Path) -> Path | None:
    """The agent's bytecode cache (``-X pycache_prefix=DIR`` in its args) is
    written by the agent itself, so it is started over whenever the slot
    changes: nothing written under one version, stale or tampered with,
    outlives an update or a rollback. Returns the folder it started over."""
    found = [a[len(PYCACHE_FLAG):] for a in args if a.startswith(PYCACHE_FLAG)]
    if not found or not found[-1]:
        return None
    cache = Path(found[-1])
    mark = cache / PYCACHE_MARK
    try:
        if mark.read_text() == str(slot):
            return None
    except OSError:
        pass
    try:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True, exist_ok=True)
        mark.write_text(str(slot))
    except OSError as exc:  # no cache: a slower start, never a unit down
        print(f"bootguard: bytecode cache {cache} unusable: {exc}", file=sys.stderr)
    return cache


def main(argv: list[str] | None = None) -> int:
    """``bootguard.py --state DIR [--fallback VENV] -- <python args>``: guard, then exec."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" in args:
        i = args.index("--")
        own, rest = args[:i], args[i + 1:]
    else:
        own, rest = args, ["-m", "firmware.agent"]
    opts = dict(zip(own[0::2], own[1::2], strict=False))
    if "--state" not in opts:
        print("usage: bootguard.py --state DIR [--fallback VENV] -- ARGS", file=sys.stderr)
        return 2
    root = Path(opts["--state"])
    try:
        guard(root)
    except OSError as exc:  # a broken state dir must never keep the unit down
        print(f"bootguard: state unusable, running current slot: {exc}", file=sys.stderr)
    slot = current_target(root) or (Path(opts["--fallback"]) if "--fallback" in opts else None)
    if slot is None:
        print("bootguard: no current slot and no --fallback", file=sys.stderr)
        return 1
    fresh_pycache(rest, slot)
    python = slot / "bin" / "python"
    sys.stdout.flush()
    os.execv(str(python), [str(python), "-I", *rest])  # noqa: S606 -- the agent, no shell
    return 1  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())

"""What a program killed outright (SIGKILL: no cleanup runs) leaves behind:
children started with ``parent_death_signal`` end with it; a broker (which
changes its user at start, so Linux forgets that signal) is stopped by the
next start on its workdir (``MosquittoProcess.stop_stale``). A killed
`siaga demo` had left its broker and its units running."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from central.broker.files import broker_tempdir
from central.broker.process import MosquittoProcess

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_what_a_killed_program_started_is_stopped():
    work = broker_tempdir(prefix="siaga-killed-")
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, subprocess, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from central.broker.process import MosquittoProcess, parent_death_signal
        b = MosquittoProcess(pathlib.Path({str(work / "broker")!r}))
        b.own_process_group = True
        b.start()
        kept = subprocess.Popen(["sleep", "300"], process_group=0)  # not asked to end with us
        gone = subprocess.Popen(["sleep", "300"], process_group=0, preexec_fn=parent_death_signal)
        print(b.proc.pid, kept.pid, gone.pid, flush=True)
        time.sleep(300)
        """)], stdout=subprocess.PIPE, text=True)
    broker, kept, gone = (int(x) for x in parent.stdout.readline().split())  # type: ignore[union-attr]
    try:
        assert _alive(broker) and _alive(kept) and _alive(gone)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _wait_gone(gone)
        assert _alive(kept)  # only what asked for it ends: not a side effect of the kill
        assert _alive(broker)  # the broker outlives it (its user changed) ...
        again = MosquittoProcess(work / "broker")
        assert again.stop_stale() == broker  # ... until the next start on its workdir stops it
        assert _wait_gone(broker)
        assert again.stop_stale() is None
        again.start()  # and the port and files are free for the new one
        again.stop()
    finally:
        for pid in (broker, kept, gone):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)

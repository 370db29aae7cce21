"""Start a helper program without waiting for it, and reap it when it exits.

Why: ``subprocess.Popen`` without a ``wait`` leaves a ``<defunct>`` child
under the agent until the agent exits (seen after ``reboot`` with a command
that returns at once). A daemon thread waits on the child, logs how it ended
(a refused ``systemctl reboot`` says so in the journal) and so reaps it.
"""

from __future__ import annotations

import logging
import subprocess
import threading

log = logging.getLogger(__name__)


def spawn_reaped(cmd: list[str]) -> subprocess.Popen[bytes]:
    """Run ``cmd`` in the background; its exit status is logged, never left as a zombie."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)

    def reap() -> None:
        rc = proc.wait()
        (log.info if rc == 0 else log.error)("%s selesai / exited with %d", cmd[0], rc)

    threading.Thread(target=reap, name=f"reap-{proc.pid}", daemon=True).start()
    return proc

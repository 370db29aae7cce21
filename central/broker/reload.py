"""Tell the running broker to re-read its password file and ACL.

Mosquitto 2.0 re-reads both on SIGHUP and disconnects a client whose
credentials no longer hold (measured in tests/central/test_provision.py), so
disable and revoke take effect on live sessions, not only on reconnects.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess

from central.errors import BrokerNotRunning, BrokerReloadError
from central.settings import ReloadSettings

log = logging.getLogger(__name__)


def reload_broker(settings: ReloadSettings) -> str:
    """Reload as configured; returns what was done, for the CLI to print.
    Raises BrokerNotRunning when the pid file names no live process (a first
    install: the broker starts later on the written files), BrokerReloadError
    when a configured target cannot be reached."""
    if settings.command:
        try:
            r = subprocess.run(settings.command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BrokerReloadError(f"reload command failed: {exc}") from None
        if r.returncode != 0:
            raise BrokerReloadError(
                f"reload command exited {r.returncode}: {r.stderr.strip()[:200]}")
        log.info("broker reloaded by command %s", settings.command[0])
        return f"command {' '.join(settings.command)}"
    if settings.pid_file:
        if not settings.pid_file.exists():
            raise BrokerNotRunning(f"no pid file {settings.pid_file}")
        try:
            pid = int(settings.pid_file.read_text().strip())
        except (OSError, ValueError) as exc:
            raise BrokerReloadError(f"cannot read pid file {settings.pid_file}: {exc}") from None
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            raise BrokerNotRunning(f"no process with pid {pid} (stale {settings.pid_file})") from None
        except PermissionError:
            raise BrokerReloadError(f"not allowed to signal broker pid {pid}") from None
        log.info("broker reloaded: SIGHUP to pid %d", pid)
        return f"SIGHUP pid {pid}"
    log.warning("no broker reload configured: sync the site files and reload by hand")
    return "none (no reload configured: sync files and reload the broker by hand)"

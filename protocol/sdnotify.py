"""systemd's ``sd_notify`` without a dependency, for every program.

``READY=1``, ``WATCHDOG=1``, ``STATUS=...``, ``STOPPING=1`` go to the
datagram socket systemd names in ``$NOTIFY_SOCKET`` (``Type=notify``,
``WatchdogSec=``). Not under systemd (no ``NOTIFY_SOCKET``) it is a no-op;
a socket that went away is not an error: a unit must never stop because
its supervisor could not be told something.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send one sd_notify datagram; False when not under systemd or it could not be sent."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(path)
            s.sendall(message.encode())
    except OSError:
        return False
    return True

"""Byte pipes the simulated modem talks over: a pseudo-terminal or TCP.

Both deliver received bytes to ``on_data`` on their own thread and drop
output when nobody is listening (or the reader is too slow), like a UART
with no one on the other end, instead of blocking the simulator.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import tty
from collections.abc import Callable

log = logging.getLogger(__name__)


class PtyEndpoint:
    """The simulator holds the master side; clients open ``path`` (the slave)."""

    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        self._on_data = on_data
        self.master, self._slave = os.openpty()
        # raw: no echo, no CR/NL translation, no line buffering in the pty itself
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-pty", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return self.path

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                self._stop.wait(0.05)
                continue
            if data:
                self._on_data(data)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                self.dropped += len(view)
                return
            except OSError:
                return
            view = view[n:]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpEndpoint:
    """Listens on ``host:port``; one client at a time (a new one replaces the old)."""

    def __init__(self, on_data: Callable[[bytes], None], host: str = "127.0.0.1", port: int = 0) -> None:
        self._on_data = on_data
        self._srv = socket.create_server((host, port))
        self._srv.settimeout(0.1)
        self.host, self.port = self._srv.getsockname()[:2]
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sim-tcp", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                client = self._client
            socks = [self._srv] + ([client] if client else [])
            try:
                ready, _, _ = select.select(socks, [], [], 0.05)
            except (OSError, ValueError):
                with self._lock:
                    self._client = None
                continue
            for s in ready:
                if s is self._srv:
                    try:
                        conn, _ = self._srv.accept()
                    except OSError:
                        continue
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    with self._lock:
                        old, self._client = self._client, conn
                    if old:
                        old.close()
                else:
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if data:
                        self._on_data(data)
                    else:
                        with self._lock:
                            if self._client is s:
                                self._client = None
                        s.close()

    def write(self, data: bytes) -> None:
        with self._lock:
            client = self._client
        if client is None:
            self.dropped += len(data)
            return
        try:
            client.sendall(data)
        except OSError:
            self.dropped += len(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:
            if self._client:
                self._client.close()
        self._srv.close()

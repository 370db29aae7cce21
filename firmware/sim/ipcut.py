"""A TCP proxy between one unit and the broker whose link can be cut: the
broker stays up for everyone else (the gateway), only this unit loses IP.
Tests use it, and the demo's control page ("putus IP / cut IP") does.
A cut link refuses new connections and drops the open ones, as a dead
uplink does from the unit's side."""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._srv.getsockname()[:2]
        self.cut = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._srv.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._srv.accept()
            except (TimeoutError, OSError):
                continue
            if self.cut.is_set():
                client.close()  # no route to the broker while cut
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            # the 5 s was for connecting only: an idle MQTT link (keepalive 30 s) must not
            # time out here; and no Nagle delay in the middle of a link that has none
            for s in (client, upstream):
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data or self.cut.is_set():
                    break
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def set_cut(self, cut: bool) -> None:
        if not cut:
            self.cut.clear()
            return
        self.cut.set()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self.set_cut(True)
        self._srv.close()

"""The demo's and the tests' cuttable link: an idle link stays up (an MQTT
link is idle for up to its keepalive), and it adds no Nagle delay."""

from __future__ import annotations

import socket
import threading
import time

from firmware.sim.ipcut import CuttableProxy


def test_an_idle_link_outlives_the_connect_timeout():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def echo() -> None:
        conn, _ = srv.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    proxy = CuttableProxy("127.0.0.1", srv.getsockname()[1])
    try:
        with socket.create_connection((proxy.host, proxy.port), timeout=10) as c:
            c.sendall(b"ping")
            assert c.recv(16) == b"ping"
            time.sleep(6)  # idle longer than the proxy's 5 s connect timeout
            c.sendall(b"still there")
            assert c.recv(16) == b"still there"
    finally:
        proxy.close()
        srv.close()

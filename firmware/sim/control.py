"""A line-based control language for the simulator (stdin or a TCP socket).

So the demo can ring a panel from a shell: ``echo "call +628123" | nc 127.0.0.1 7101``.
One command a line; the answer is one line starting ``ok`` or ``error``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from firmware.sim.simulator import ModemSimulator, SimulatorError

log = logging.getLogger(__name__)

HELP = (
    "call [number] | answer | hangup | busy | noanswer | sms <number> <text> | "
    "reg on|off|roaming | signal <0-31|99> | silent on|off | reboot | uv [down] | poweron | "
    "time | delay <s> | garbage | speaker dead|ok | mic dead|ok | simcard out|in | state | help"
)


def run_command(sim: ModemSimulator, line: str) -> str:
    """Execute one control line; never raises."""
    parts = line.strip().split(maxsplit=2)
    if not parts:
        return "ok"
    cmd, args = parts[0].lower(), parts[1:]
    try:
        if cmd == "call":
            sim.incoming_call(args[0] if args else None)
        elif cmd == "answer":
            sim.remote_answer()
        elif cmd == "hangup":
            sim.remote_hangup()
        elif cmd == "busy":
            sim.remote_busy()
        elif cmd == "noanswer":
            sim.remote_no_answer()
        elif cmd == "sms":
            if len(args) < 2:
                return "error: sms <number> <text>"
            sim.receive_sms(args[0], args[1])
        elif cmd == "reg":
            mode = (args or ["on"])[0]
            sim.set_registered(mode != "off", roaming=mode == "roaming")
        elif cmd == "signal":
            sim.set_signal(int(args[0]))
        elif cmd == "silent":
            sim.go_silent((args or ["on"])[0] != "off")
        elif cmd == "reboot":
            sim.reboot()
        elif cmd == "uv":
            sim.under_voltage(power_down=bool(args) and args[0] == "down")
        elif cmd == "poweron":
            sim.power_on()
        elif cmd == "time":
            sim.set_network_time(datetime.now(UTC).astimezone())
        elif cmd == "delay":
            sim.set_reply_delay(float(args[0]))
        elif cmd == "garbage":
            sim.inject(b"\xff\x00\x13\x37garbage\r\n")
        elif cmd in ("speaker", "mic"):
            setattr(sim, f"{cmd}_ok", (args or ["ok"])[0] != "dead")
        elif cmd == "simcard":
            sim.sim_present = (args or ["in"])[0] != "out"
        elif cmd == "state":
            return (f"ok call={sim.call_state} registered={sim.registered} silent={sim.silent} "
                    f"powered={sim.powered} sms_sent={len(sim.sent_sms)} dialled={','.join(sim.dialled)}")
        elif cmd == "help":
            return "ok " + HELP
        else:
            return f"error: perintah tidak dikenal / unknown command {cmd!r}; {HELP}"
    except (SimulatorError, ValueError, IndexError) as exc:
        return f"error: {exc}"
    return "ok"


class ControlServer:
    """Serves :func:`run_command` (or ``handler``) on a loopback TCP port, one line per command."""

    def __init__(self, sim: ModemSimulator | None, port: int = 0, host: str = "127.0.0.1",
                 handler: Callable[[str], str] | None = None) -> None:
        self.sim = sim
        self.handler = handler or (lambda line: run_command(sim, line))  # type: ignore[arg-type]
        self._srv = socket.create_server((host, port))
        self.host, self.port = self._srv.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._srv.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn, conn.makefile("rwb") as f:
            for raw in f:
                line = raw.decode("utf-8", errors="replace").strip()
                if line in ("quit", "exit"):
                    return
                f.write((self.handler(line) + "\n").encode())
                f.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._srv.close()

"""TEST ONLY: a local control socket that presses the mock buttons.

Why: the outage and power-cut tests run the agent as a real subprocess (so
it can be SIGKILLed) and need to press its buttons. With ``sim_control:
/path/ctl.sock`` in the config *and* ``GPIOZERO_PIN_FACTORY=mock``, the agent
listens on that Unix socket; one line per request, one line per reply:

``press <button> [hold_s]`` -> drives the button's mock pin low then high,
    replies ``recorded <id>`` / ``joined <id>`` / ``refused -`` /
    ``ignored -`` once the agent has handled the press (``recorded`` is said
    only after the durable commit, exactly when the LED would light).
``drive <role> low|high``  -> sets a sense input's mock pin (door_tamper...).
``state``                  -> JSON: outbox depth, connected, faults, LEDs lit.
``part <role> dead|ok``    -> breaks (or mends) an LED or the buzzer in the board
    model (firmware/sim/board.py): it draws no current, the self-test sees it.
``selftest``               -> runs the self-test now; JSON ``{ok, failed}`` (the
    summary also goes to the centre at once, as after a ``self_test`` command).

Nothing drives real pins: the agent refuses to start it on real hardware.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any

from firmware.errors import FirmwareError

log = logging.getLogger(__name__)


class SimControlRefused(FirmwareError, PermissionError):
    """sim_control asked for outside the mock pin factory."""


class SimControl:
    def __init__(self, path: Path, events: queue.Queue[tuple[Any, ...]], hw: Any) -> None:
        if os.environ.get("GPIOZERO_PIN_FACTORY", "").lower() != "mock":
            raise SimControlRefused(
                "sim_control hanya untuk uji / sim_control is test-only: needs GPIOZERO_PIN_FACTORY=mock")
        self.path = Path(path)
        self.events = events
        self.hw = hw
        self._stop = threading.Event()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.warning("sim_control aktif (uji) / sim_control active (test only) on %s", self.path)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rw", encoding="utf-8", newline="\n") as f:
            for line in f:
                try:
                    reply = self._handle(line.split())
                except Exception as exc:  # a bad request gets an error line, never kills the agent
                    reply = f"error {exc}"
                try:
                    f.write(reply + "\n")
                    f.flush()
                except OSError:
                    return

    def _ask(self, *item: Any) -> str:
        answer: queue.Queue[str] = queue.Queue(1)
        self.events.put((*item, answer))
        try:
            return answer.get(timeout=30)
        except queue.Empty:
            return "error timeout"

    def _handle(self, parts: list[str]) -> str:
        if not parts:
            return "error empty"
        cmd = parts[0]
        if cmd == "press" and len(parts) in (2, 3):
            name = parts[1]
            button = self.hw.buttons.get(name)
            if button is None:
                return f"error no button {name}"
            hold = float(parts[2]) if len(parts) == 3 else 0.0
            button.pin.drive_low()
            time.sleep(hold if hold > 0 else 0.001)
            button.pin.drive_high()
            return self._ask("sim_press", name)
        if cmd == "drive" and len(parts) == 3 and parts[2] in ("low", "high"):
            dev = self.hw.inputs.get(parts[1])
            if dev is None:
                return f"error no input {parts[1]}"
            dev.pin.drive_low() if parts[2] == "low" else dev.pin.drive_high()
            return "ok"
        if cmd == "part" and len(parts) == 3 and parts[2] in ("dead", "ok"):
            board = getattr(self.hw, "board", None)
            if board is None or parts[1] not in board.loads:
                return f"error no sensed part {parts[1]}"
            board.set_dead(parts[1], parts[2] == "dead")
            return "ok"
        if cmd == "selftest":
            return self._ask("sim_selftest")
        if cmd == "state":
            return self._ask("sim_state")
        return ("error usage: press <button> [hold_s] | drive <role> low|high | part <role> dead|ok | "
                "selftest | state")

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

Everything test-only lives here, outside the agent's loop: the loop knows
only its generic hooks (``press_observers``, the ``OnLoop`` event), and
:class:`PressLog` records what each press did (in-process tests read it too).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware.agent.events import OnLoop
from firmware.errors import FirmwareError

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.agent import Agent

log = logging.getLogger(__name__)


class SimControlRefused(FirmwareError, PermissionError):
    """sim_control asked for outside the mock pin factory."""


class PressLog:
    """What each press did, per button, oldest first (the last 100 of each)."""

    def __init__(self) -> None:
        self.results: dict[str, collections.deque[tuple[str, str | None]]] = \
            collections.defaultdict(collections.deque)

    @classmethod
    def of(cls, agent: Agent) -> PressLog:
        """The agent's log, attached on first use (attach before the presses)."""
        for observer in agent.press_observers:
            owner = getattr(observer, "__self__", None)
            if isinstance(owner, cls):
                return owner
        log_ = cls()
        agent.press_observers.append(log_.record)
        return log_

    def record(self, button: str, result: tuple[str, str | None]) -> None:
        q = self.results[button]
        q.append(result)
        while len(q) > 100:
            q.popleft()


def state(agent: Agent) -> str:
    """The ``state`` reply (read on the loop thread)."""
    return json.dumps({"outbox_depth": agent.store.outbox_depth(), "connected": agent.link.connected,
                       "faults": agent.health.faults(), "sms": agent.sms.stats(),
                       "leds": {k: bool(v.is_lit) for k, v in agent.hw.leds.items()}})


def selftest(agent: Agent) -> str:
    """The ``selftest`` reply: runs it now (on the loop thread)."""
    res = agent.self_test()
    return json.dumps({"ok": res["ok"], "failed": res["failed"]})


class SimControl:
    @classmethod
    def attach(cls, agent: Agent, path: Path) -> SimControl:
        """Listen on ``path`` for ``agent`` (refused unless the pins are mock pins)."""
        sim = cls(path, agent.q, agent.hw)
        # before the loop's first turn, so the first health check sees these levels
        for role, level in agent.cfg.sim_pins.items():
            dev = agent.hw.inputs.get(role)
            if dev is None:
                sim.close()
                raise SimControlRefused(f"sim_pins: tidak ada masukan / no sense input {role!r}")
            dev.pin.drive_low() if level == "low" else dev.pin.drive_high()
        sim.presses = PressLog.of(agent)
        sim.state = lambda: state(agent)
        sim.selftest = lambda: selftest(agent)
        sim.start()
        return sim

    def __init__(self, path: Path, events: queue.Queue[Any], hw: Any) -> None:
        if os.environ.get("GPIOZERO_PIN_FACTORY", "").lower() != "mock":
            raise SimControlRefused(
                "sim_control hanya untuk uji / sim_control is test-only: needs GPIOZERO_PIN_FACTORY=mock")
        self.path = Path(path)
        self.events = events
        self.hw = hw
        self.presses = PressLog()
        self.state: Any = lambda: "{}"
        self.selftest: Any = lambda: "{}"
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

    def _ask(self, fn: Any) -> str:
        """``fn()`` run on the agent's loop thread (after what is already queued)."""
        answer: queue.Queue[Any] = queue.Queue(1)
        self.events.put(OnLoop(fn, answer))
        try:
            return str(answer.get(timeout=30))
        except queue.Empty:
            return "error timeout"

    def _press_result(self, name: str) -> str:
        results = self.presses.results[name]
        status, ref = results.popleft() if results else ("ignored", None)
        return f"{status} {ref or '-'}"

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
            # the press event is queued by gpiozero's callback before this: its result is in by then
            return self._ask(lambda: self._press_result(name))
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
            return self._ask(self.selftest)
        if cmd == "state":
            return self._ask(self.state)
        return ("error usage: press <button> [hold_s] | drive <role> low|high | part <role> dead|ok | "
                "selftest | state")

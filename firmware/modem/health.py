"""The supervisor thread: deferred work, the watchdog, and recovery.

The reader thread may not send commands (it would wait on itself), so it
queues work here: read a stored SMS, fetch the clock, recover. Every
``interval`` seconds the watchdog probes with ``AT``; a silent modem, an
unexpected ``RDY`` or a power-down URC starts recovery, which escalates:
re-run init -> ``AT+CFUN=1,1`` -> pulse the reset GPIO, with exponential
backoff between rounds, until the modem is back. A call in progress is ended
(``modem_reset``) first, so the agent never waits for a call that is gone.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from firmware.modem.errors import ModemError
from firmware.modem.events import EndReason

if TYPE_CHECKING:
    from firmware.modem.driver import Modem

log = logging.getLogger(__name__)

TICK = 0.1


class Supervisor:
    def __init__(
        self,
        modem: Modem,
        *,
        interval: float,
        boot_timeout: float,
        reset_pulse: float,
        backoff: tuple[float, float],
    ) -> None:
        self._m = modem
        self.interval = interval
        self.boot_timeout = boot_timeout
        self.reset_pulse = reset_pulse
        self.backoff = backoff
        self._tasks: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._rdy = threading.Event()
        self._expect_rdy = False
        self._thread: threading.Thread | None = None
        self._gpio: Any = None  # gpiozero DigitalOutputDevice, created on first use
        self.recovering = False
        self.attempts = 0  # recovery rounds in the current outage
        self.recovered_at = 0.0
        self._power_down: str | None = None  # set by a power-down URC until recovered

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="modem-supervisor", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._gpio is not None:
            self._gpio.close()
            self._gpio = None

    def submit(self, kind: str, arg: Any) -> None:
        self._tasks.put((kind, (arg, time.monotonic())))

    def note_power_down(self, code: str) -> None:
        """Reader thread: the modem said it is switching off. Whatever recovery
        runs next (maybe one a timeout started first) must go to the GPIO."""
        self._power_down = code
        self.submit("recover", code)

    def on_rdy(self) -> None:
        """Reader thread: the modem printed RDY (it has just booted)."""
        self._rdy.set()
        if self._expect_rdy:
            return
        log.warning("Modem mulai ulang sendiri / modem rebooted by itself (RDY)")
        self._m._calls.fail(EndReason.MODEM_RESET)
        self.submit("recover", "unexpected_rdy")

    # ---- loop ---------------------------------------------------------------
    def _run(self) -> None:
        next_probe = time.monotonic() + self.interval
        while not self._stop.is_set():
            try:
                kind, (arg, asked_at) = self._tasks.get(timeout=TICK)
            except queue.Empty:
                kind, arg, asked_at = "", None, 0.0
            try:
                self._m._calls.tick()
                if kind == "recover" and asked_at <= self.recovered_at:
                    log.info("recovery for %s already done", arg)
                elif kind:
                    self._do(kind, arg)
                ch = self._m._channel
                if self._power_down:  # known to be off: probing it would only cost timeouts
                    self.recover(self._power_down)
                elif time.monotonic() >= next_probe or ch.suspect.is_set():
                    ch.suspect.clear()
                    next_probe = time.monotonic() + self.interval
                    self._probe()
                self._m._inbox.expire_partial()
                self._m._callwatch.tick()
            except Exception:
                self._m.counters["supervisor_errors"] += 1
                log.exception("modem supervisor task %s failed", kind)

    def _do(self, kind: str, arg: Any) -> None:
        if kind == "read_sms":
            try:
                self._m._inbox.read_stored(int(arg))
            except ModemError as exc:
                self._m.counters["sms_read_errors"] += 1
                log.warning("Gagal membaca SMS / could not read SMS %s: %s", arg, exc)
                if not self._stop.is_set():
                    self.submit("sweep_sms", None)  # the message is still on the SIM: list again
        elif kind == "sweep_sms":
            try:
                self._m._inbox.sweep()
            except ModemError as exc:
                log.warning("Gagal menyapu SMS tersimpan / stored SMS sweep failed: %s", exc)
        elif kind == "sync_time":
            when = self._m.network_time()
            self._m._set_time(when)
        elif kind == "recover":
            self.recover(str(arg))

    def _probe(self) -> None:
        try:
            self._m.sync(attempts=2)
        except ModemError:
            self._m._fault("modem_silent", "Modem diam / modem does not answer AT")
            self.recover("silent")

    # ---- recovery -----------------------------------------------------------
    def recover(self, reason: str) -> bool:
        """Bring the modem back; True when it answers and is initialised again."""
        self.recovering = True
        self._m._calls.fail(EndReason.MODEM_RESET)
        self.attempts = 0
        try:
            while not self._stop.is_set():
                reason = self._power_down or reason
                self.attempts += 1
                step = self._step_for(self.attempts, reason)
                log.warning("Pemulihan modem / modem recovery #%d (%s): %s", self.attempts, reason, step)
                if self._try(step):
                    self._power_down = None
                    self.recovered_at = time.monotonic()
                    self._drain_stale(reason)
                    self._m._restarted(reason)
                    self.submit("sweep_sms", None)
                    return True
                if self.attempts >= 2:
                    base, cap = self.backoff
                    delay = min(cap, base * 2 ** (self.attempts - 2))
                    if self._stop.wait(delay):
                        break
            return False
        finally:
            self.recovering = False

    def _step_for(self, attempt: int, reason: str) -> str:
        if attempt == 1 and reason in ("unexpected_rdy", "silent"):
            return "reinit"
        if self._m.reset_pin is not None and (attempt % 2 == 1 or reason.endswith("power_down")):
            return "gpio"
        return "cfun"

    def _try(self, step: str) -> bool:
        m = self._m
        try:
            if step == "reinit":
                if self._rdy.is_set():
                    # just booted: give it a moment for Call Ready / SIM before init
                    self._stop.wait(min(0.5, self.boot_timeout))
            elif step == "cfun":
                self._reset_and_wait(lambda: m.at("AT+CFUN=1,1", timeout=min(m.command_timeout, 5.0)))
            elif step == "gpio":
                self._reset_and_wait(self._pulse_reset)
            self._rdy.clear()
            m.initialise()
            return True
        except ModemError as exc:
            log.warning("recovery step %s failed: %s", step, exc)
            return False

    def _reset_and_wait(self, action) -> None:
        self._rdy.clear()
        self._expect_rdy = True
        try:
            try:
                action()
            except ModemError as exc:  # a hung modem will not say OK to CFUN
                log.info("reset command got no answer: %s", exc)
            self._rdy.wait(self.boot_timeout)
        finally:
            self._expect_rdy = False

    def _pulse_reset(self) -> None:
        if self._gpio is None:
            from gpiozero import DigitalOutputDevice  # lazy: only boxes with a reset line

            # active low: on() pulls the modem's PWRKEY/RESET line low
            self._gpio = DigitalOutputDevice(self._m.reset_pin, active_high=False, initial_value=False)
        self._m.counters["gpio_resets"] += 1
        self._gpio.on()
        self._stop.wait(self.reset_pulse)
        self._gpio.off()

    def _drain_stale(self, reason: str) -> None:
        self._rdy.clear()
        log.info("modem back after %s (%d attempts)", reason, self.attempts)

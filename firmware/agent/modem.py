"""The agent's door to the GSM modem driver (``firmware.modem.Modem``).

Why an adapter: a box may have no modem (or a dead one) and must still file
incidents over MQTT; every driver call here turns a ModemError into a
logged ``None``/``False`` plus a fault, never an exception in the main loop.
The driver's event queue is forwarded onto the agent's queue by one small
thread, so the main loop waits on a single queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime
from typing import Any

from firmware.agent.config import ModemSettings
from firmware.agent.events import EventQueue, ModemEvent

log = logging.getLogger(__name__)


class ModemPort:
    """Optional modem: ``present`` is False when none is configured or it failed."""

    def __init__(self, settings: ModemSettings, events: EventQueue, *,
                 reset_pin: int | None = None) -> None:
        self.settings = settings
        self.events = events
        self.reset_pin = reset_pin
        self.modem: Any = None
        self.fault: str | None = None
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def present(self) -> bool:
        return self.modem is not None

    def start(self) -> None:
        if not self.settings.url:
            self.fault = "modem_absent"
            log.warning("Modem tidak dikonfigurasi / no modem configured: incidents go over MQTT only")
            return
        try:
            from firmware.modem import Modem
        except ImportError as exc:
            self.fault = "modem_absent"
            log.error("Driver modem tidak ada / modem driver missing: %s", exc)
            return
        try:
            m = Modem(self.settings.url, profile=self.settings.profile, baudrate=self.settings.baudrate,
                      reset_pin=self.reset_pin, command_timeout=self.settings.command_timeout_s,
                      watchdog_interval=self.settings.watchdog_interval_s)
            m.start()
        except Exception as exc:  # the driver's errors and pyserial's: never fatal for the agent
            self.fault = "modem_silent"
            log.error("Modem gagal mulai / modem failed to start: %s", exc)
            return
        self.modem = m
        self.fault = None
        self._stop.clear()
        self._thread = threading.Thread(target=self._forward, name="modem-events", daemon=True)
        self._thread.start()

    def _forward(self) -> None:
        q = self.modem.events
        while not self._stop.is_set():
            try:
                ev = q.get(timeout=0.5)
            except queue.Empty:
                continue
            self.events.put(ModemEvent(ev))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self.modem is not None:
            try:
                self.modem.close()
            except Exception as exc:
                log.warning("modem close: %s", exc)
            self.modem = None

    def _call(self, what: str, *args: Any, default: Any = None) -> Any:
        if self.modem is None:
            return default
        try:
            return getattr(self.modem, what)(*args)
        except Exception as exc:  # ModemError, serial errors: log and carry on
            self.errors += 1
            log.warning("modem %s failed: %s", what, exc)
            return default

    def answer(self) -> bool:
        return self._call("answer", default=False) is not False

    def hang_up(self) -> bool:
        return self._call("hang_up", default=False) is not False

    def dial(self, number: str) -> bool:
        return self._call("dial", number, default=False) is not False

    def send_sms(self, number: str, text: str) -> tuple[bool, str]:
        """``(sent, error)``; any thread (the driver serialises AT commands)."""
        if self.modem is None:
            return False, "no modem"
        try:
            self.modem.send_sms(number, text)
        except Exception as exc:  # ModemError, serial errors: the caller retries later
            self.errors += 1
            return False, str(exc)[:200]
        return True, ""

    def signal(self) -> int | None:
        return self._call("signal")

    def registration(self) -> str | None:
        return self._call("registration")

    def network_time(self) -> datetime | None:
        return self._call("network_time")

    def audio_loop(self, record_s: float) -> dict[str, Any] | None:
        """Speaker and microphone through the modem (firmware/modem/audio.py)."""
        return self._call("audio_loop", record_s, default=None)

    def self_test(self) -> dict[str, Any]:
        if self.modem is None:
            return {"modem": "absent"}
        result = self._call("self_test", default=None)
        return dict(result) if isinstance(result, dict) else {"modem": "error"}

    @property
    def call_state(self) -> str | None:
        return str(self.modem.call_state) if self.modem is not None else None

    def reset(self) -> bool:
        """`modem_reset`: the driver's own reset when it has one, else reopen."""
        if self.modem is not None and hasattr(self.modem, "reset"):
            return self._call("reset", default=False) is not False
        self.close()
        self.start()
        return self.present

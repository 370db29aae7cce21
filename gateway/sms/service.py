"""The centre's modem inside the gateway: received SMS go to :class:`SmsIntake`.

Why in the gateway process: the intake must write the case in the same
database, with the same routing and dispatch, as the MQTT ingest. The modem
driver (``firmware.modem``, pyserial only) has its own reader thread; one
more thread here takes its events, so a slow database never stalls the
serial line. A dead modem is a logged fault and a ``/readyz`` detail, never
a reason for the gateway to stop.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from gateway.config.models import SiteConfig
from gateway.sms.intake import SmsIntake

log = logging.getLogger("gateway.sms")


class SmsService:
    def __init__(self, cfg: SiteConfig, intake: SmsIntake) -> None:
        if cfg.sms is None:
            raise ValueError("site config has no sms section")
        self.settings = cfg.sms.modem
        self.intake = intake
        self.modem: Any = None
        self.received = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._send_lock = threading.Lock()

    def start(self) -> None:
        from firmware.modem import Modem

        m = Modem(self.settings.url, profile=self.settings.profile, baudrate=self.settings.baudrate,
                  command_timeout=self.settings.command_timeout_s,
                  watchdog_interval=self.settings.watchdog_interval_s)
        try:
            m.start()
        except Exception as exc:  # the driver retries by itself; the gateway runs on
            log.error("Modem pusat gagal mulai / centre modem failed to start: %s", exc)
        self.modem = m
        self._thread = threading.Thread(target=self._run, name="sms-intake", daemon=True)
        self._thread.start()
        log.info("Modem pusat / centre modem on %s", self.settings.url)

    def _run(self) -> None:
        from firmware.modem import events as ev

        while not self._stop.is_set():
            try:
                e = self.modem.events.get(timeout=0.5)
            except queue.Empty:
                continue
            if not isinstance(e, ev.SmsReceived):
                continue
            self.received += 1
            out = self._handle(e.number, e.text)
            if out is not None:
                log.info("SMS dari / from %s: %s %s", e.number, out.result, out.case or "")

    def _handle(self, number: str, text: str):
        """Retry while the database is down (the modem already took the SMS off
        the SIM, so this thread is its only copy); bad input never raises."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                return self.intake.handle(number, text)
            except Exception:
                log.exception("SMS belum tersimpan, dicoba lagi / SMS not stored yet, retrying in "
                              "%.0f s: from %s", delay, number)
                self._stop.wait(delay)
                delay = min(30.0, delay * 2)
        log.error("Berhenti dengan SMS belum tersimpan / stopping with an SMS not stored: from %s: %r",
                  number, text[:160])
        return None

    def send(self, number: str, text: str) -> None:
        """Send one SMS (raises the driver's error; the dispatcher retries)."""
        if self.modem is None:
            raise RuntimeError("no centre modem")
        with self._send_lock:
            self.modem.send_sms(number, text)

    def alive(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self.modem is not None:
            try:
                self.modem.close()
            except Exception as exc:
                log.warning("modem close: %s", exc)
            self.modem = None

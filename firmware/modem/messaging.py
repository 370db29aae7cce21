"""Sending SMS over the AT channel (receiving is :mod:`firmware.modem.inbox`).

The modem's text-mode settings (``+CMGF``, ``+CSCS``, ``+CSMP``) are global,
so every sequence that changes them holds ``mode_lock`` and puts them back in
a ``finally``: a failed send must not leave the modem in PDU mode or UCS2.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from firmware.modem import sms
from firmware.modem.channel import AtChannel
from firmware.modem.errors import ModemStateError
from firmware.modem.events import ModemEvent

log = logging.getLogger(__name__)

TEXT_CSMP = 'AT+CSMP=17,167,0,0'
UCS2_CSMP = 'AT+CSMP=17,167,0,8'


class Messaging:
    def __init__(
        self,
        channel: AtChannel,
        emit: Callable[[ModemEvent], None],
        *,
        command_timeout: float,
        sms_timeout: float,
    ) -> None:
        self._ch = channel
        self._emit = emit
        self._timeout = command_timeout
        self._sms_timeout = sms_timeout
        self.mode_lock = threading.RLock()
        self._ref = random.randrange(256)
        self.counters: dict[str, int] = {"sms_sent_parts": 0}

    # ---- sending ------------------------------------------------------------
    def send(self, number: str, text: str) -> int:
        number = number.strip()
        if not sms.NUMBER_RE.match(number):
            raise ModemStateError(f"Nomor tidak sah / invalid number: {number!r}")
        if not text:
            raise ModemStateError("Pesan kosong / empty message")
        p = sms.plan(text)
        if len(p.parts) > sms.MAX_PARTS:
            raise ModemStateError(f"Pesan terlalu panjang / message too long: {len(p.parts)} parts")
        with self.mode_lock:
            if p.mode == "text-ira":
                self._cmgs(f'AT+CMGS="{number}"', text.encode("ascii"))
            elif p.mode == "text-ucs2":
                try:
                    self._cmd('AT+CSCS="UCS2"')
                    self._cmd(UCS2_CSMP)
                    self._cmgs(f'AT+CMGS="{sms.ucs2_hex(number)}"', sms.ucs2_hex(text).encode("ascii"))
                finally:
                    self._restore_text_mode()
            else:
                self._ref = (self._ref + 1) & 0xFF
                pdus = sms.submit_pdus(number, text, p.alphabet, self._ref)
                try:
                    self._cmd("AT+CMGF=0")
                    for length, hexdata in pdus:
                        self._cmgs(f"AT+CMGS={length}", hexdata.encode("ascii"))
                finally:
                    self._restore_text_mode()
            return len(p.parts)

    def _cmgs(self, command: str, data: bytes) -> None:
        self._ch.command(command, timeout=self._sms_timeout, expect="+CMGS:", data=data)
        self.counters["sms_sent_parts"] += 1

    def _restore_text_mode(self) -> None:
        for cmd in ("AT+CMGF=1", 'AT+CSCS="IRA"', TEXT_CSMP):
            try:
                self._cmd(cmd)
            except Exception:  # the watchdog re-runs init if the modem is gone
                log.warning("could not restore SMS text mode with %s", cmd)

    def _cmd(self, command: str):
        return self._ch.command(command, timeout=self._timeout)

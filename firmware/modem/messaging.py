"""Sending and receiving SMS over the AT channel.

The modem's text-mode settings (``+CMGF``, ``+CSCS``, ``+CSMP``) are global,
so every sequence that changes them holds ``mode_lock`` and puts them back in
a ``finally``: a failed send must not leave the modem in PDU mode or UCS2.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime

from firmware.modem import sms
from firmware.modem.channel import AtChannel
from firmware.modem.errors import ModemCommandError, ModemStateError
from firmware.modem.events import ModemEvent, SmsReceived
from firmware.modem.info import parse_clock
from firmware.modem.parser import split_fields

log = logging.getLogger(__name__)

#: incomplete multipart messages are given up (and emitted as they are) after this
CONCAT_TTL = 600.0

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
        # (number, ref) -> {"total": n, "parts": {seq: text}, "first": t, "sent_at": dt}
        self._partial: dict[tuple[str, int], dict] = {}
        self._partial_lock = threading.Lock()
        self.counters: dict[str, int] = {"sms_sent_parts": 0, "sms_received": 0, "sms_undecodable": 0}

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

    # ---- receiving ----------------------------------------------------------
    def read_stored(self, index: int) -> None:
        """Read one stored message (after ``+CMTI``), emit it, delete it."""
        with self.mode_lock:
            try:
                self._cmd('AT+CSCS="UCS2"')
                resp = self._ch.command(
                    f"AT+CMGR={index}", timeout=self._timeout, expect="+CMGR:", body_after=True
                )
            finally:
                try:
                    self._cmd('AT+CSCS="IRA"')
                except Exception:
                    log.warning("could not restore IRA charset after reading SMS")
            header = resp.first("+CMGR:")
            body = ""
            for i, ln in enumerate(resp.lines):
                if ln.startswith("+CMGR:") and i + 1 < len(resp.lines):
                    body = resp.lines[i + 1]
            if header is not None:
                self._deliver(split_fields(header)[1:], body, ucs2=True)
            else:
                log.warning("SMS %d: empty slot", index)
            try:
                self._cmd(f"AT+CMGD={index}")
            except ModemCommandError as exc:
                log.warning("SMS %d could not be deleted: %s", index, exc)

    def stored_indexes(self) -> list[int]:
        """Slots holding messages (``AT+CMGL="ALL"``): those that arrived while
        the agent was down or the modem was rebooting never sent us +CMTI."""
        with self.mode_lock:
            # the normal timeout, not the SMS one: this runs on the watchdog's thread
            resp = self._ch.command('AT+CMGL="ALL"', timeout=self._timeout, expect="+CMGL:",
                                    body_after=True)
        out = []
        for item in resp.info("+CMGL:"):
            try:
                out.append(int(split_fields(item)[0]))
            except (ValueError, IndexError):
                self.counters["sms_undecodable"] += 1
        return out

    def on_cmt(self, header: str, body: str) -> None:
        """``+CMT: <oa>,<alpha>,<scts>[,<tooa>,<fo>,<pid>,<dcs>,...]`` + body (IRA)."""
        self._deliver(split_fields(header.partition(":")[2]), body, ucs2=False)

    def _deliver(self, f: list[str], body: str, *, ucs2: bool) -> None:
        """``f`` = ``[oa, alpha, scts, tooa, fo, pid, dcs, ...]``."""
        number = sms.decode_number(f[0]) if f else ""
        sent_at = parse_clock(f[2]) if len(f) > 2 else None
        fo = _int(f[4]) if len(f) > 4 else 0
        dcs = _int(f[6]) if len(f) > 6 else 0
        is_ucs2 = ucs2 or (dcs & 0x0C) == 0x08
        concat = None
        text: str | None
        if fo & 0x40 and is_ucs2:
            try:
                concat, rest = sms.parse_udh(bytes.fromhex(body))
                text = rest.decode("utf-16-be")
            except (ValueError, UnicodeDecodeError):
                text = None
        elif is_ucs2:
            text = sms.from_ucs2_hex(body)
            if text is None and not ucs2:
                text = body
        else:
            text = body
        if text is None:
            self.counters["sms_undecodable"] += 1
            log.warning("SMS dari / from %s tidak terbaca / undecodable; passing raw text", number)
            text = body
        if concat is None:
            self._emit_sms(number, text, sent_at)
            return
        ref, total, seq = concat
        now = time.monotonic()
        with self._partial_lock:  # +CMT parts come on the reader, +CMTI reads on the supervisor
            entry = self._partial.setdefault(
                (number, ref), {"total": total, "parts": {}, "first": now, "sent_at": sent_at}
            )
            entry["parts"][seq] = text
            if len(entry["parts"]) < entry["total"]:
                return
            del self._partial[(number, ref)]
        text = "".join(entry["parts"][k] for k in sorted(entry["parts"]))
        self._emit_sms(number, text, entry["sent_at"])

    def expire_partial(self, ttl: float = CONCAT_TTL) -> None:
        """Emit what we have of multipart messages whose other parts never came."""
        now = time.monotonic()
        with self._partial_lock:
            stale = [(k, e) for k, e in self._partial.items() if now - e["first"] >= ttl]
            for key, _ in stale:
                del self._partial[key]
        for key, entry in stale:
            self.counters["sms_incomplete"] = self.counters.get("sms_incomplete", 0) + 1
            text = "".join(entry["parts"][k] for k in sorted(entry["parts"]))
            self._emit_sms(key[0], text, entry["sent_at"])

    def _emit_sms(self, number: str, text: str, sent_at: datetime | None) -> None:
        self.counters["sms_received"] += 1
        self._emit(SmsReceived(at=time.monotonic(), number=number, text=text, sent_at=sent_at))


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0

"""Receiving SMS: read stored messages in PDU mode, decode, join the parts.

Why PDU mode for reading: text mode shows a long message's parts, 8-bit data
and UCS2 as hex, prints alphanumeric senders in the current character set,
and a stored status report has no body line there (the listing then takes
the next message's header as a body). ``AT+CMGF=0`` for the read gives every
maker's modem the same octets, decoded by :mod:`firmware.modem.pdu`; the
modem goes back to text mode (the send side's default) in a ``finally``.

Parts of a long message are joined however they come (``+CMTI`` or ``+CMT``,
out of order, twice); a message still missing parts after ``concat_timeout``
is delivered as it is, with ``missing`` set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from firmware.modem import pdu, textmode
from firmware.modem.channel import AtChannel
from firmware.modem.errors import ModemCommandError
from firmware.modem.events import ModemEvent, SmsReceived
from firmware.modem.parser import payload, split_fields

log = logging.getLogger(__name__)

#: incomplete multipart messages are delivered as they are after this (seconds)
CONCAT_TTL = 600.0


@dataclass
class _Partial:
    total: int
    first: float
    sent_at: datetime | None
    encoding: str
    parts: dict[int, str] = field(default_factory=dict)


class Inbox:
    def __init__(
        self,
        channel: AtChannel,
        emit: Callable[[ModemEvent], None],
        *,
        command_timeout: float,
        mode_lock: threading.RLock,
        concat_timeout: float = CONCAT_TTL,
    ) -> None:
        self._ch = channel
        self._emit = emit
        self._timeout = command_timeout
        self._mode_lock = mode_lock
        self.concat_timeout = concat_timeout
        self.pdu_mode = True  # False after a modem refused AT+CMGF=0: text-mode fallback
        self._partial: dict[tuple[str, int, int], _Partial] = {}
        self._lock = threading.Lock()  # +CMT parts come on the reader, reads on the supervisor
        self.counters: Counter[str] = Counter()

    # ---- reading the SIM -----------------------------------------------------
    def read_stored(self, index: int) -> None:
        """Read one stored message (after ``+CMTI`` / ``+CDSI``), deliver it, delete it."""
        with self._mode_lock:
            entries, text = self._read(f"AT+CMGR={index}", "+CMGR:", listing=False)
            if not entries:
                log.info("SMS %d: empty slot (already swept)", index)
            for header, body in entries:
                self._handle(split_fields(header)[1:], body, text)
            self._delete(index)

    def sweep(self) -> int:
        """Read and delete every stored message (``AT+CMGL``): those that came while
        the agent was down or the modem was rebooting never sent us ``+CMTI``."""
        with self._mode_lock:
            entries, text = self._read("AT+CMGL=4", "+CMGL:", listing=True)
            for header, body in entries:
                try:
                    index = int(split_fields(header)[0])
                except (ValueError, IndexError):
                    self.counters["sms_undecodable"] += 1
                    continue
                self._handle(split_fields(header)[2:], body, text)
                self._delete(index)
        return len(entries)

    def _read(self, command: str, prefix: str, *, listing: bool) -> tuple[list, bool]:
        """``(entries, text_mode)``: in PDU mode when the modem allows it."""
        if self.pdu_mode:
            try:
                self._ch.command("AT+CMGF=0", timeout=self._timeout)
            except ModemCommandError as exc:
                self.pdu_mode = False
                self.counters["pdu_mode_refused"] += 1
                log.warning("Modem menolak mode PDU / modem refuses PDU mode (%s)", exc.result)
            else:
                try:
                    return self._command(command, prefix, lambda _line: True), False
                finally:
                    try:
                        self._ch.command("AT+CMGF=1", timeout=self._timeout)
                    except Exception:  # the watchdog re-runs init if the modem is gone
                        log.warning("could not restore SMS text mode after a PDU-mode read")
        text_command = 'AT+CMGL="ALL"' if listing else command
        return self._command(text_command, prefix, _text_body_follows(listing)), True

    def _handle(self, fields: list[str], body: str | None, text: bool) -> None:
        if body is None and text:  # a text-mode status report has no body line
            self.counters["sms_status_reports"] += 1
        elif body is None:
            self.counters["sms_undecodable"] += 1
        elif text:
            self._take_text(fields, body, "IRA")
        else:
            self._take(body)

    def _command(self, command: str, prefix: str, body_follows) -> list[tuple[str, str | None]]:
        """``[(header payload, body line or None)]`` of a read or listing."""
        resp = self._ch.command(command, timeout=self._timeout, expect=prefix, body_after=body_follows)
        out: list[tuple[str, str | None]] = []
        lines = resp.lines
        for i, ln in enumerate(lines):
            if not ln.startswith(prefix):
                continue
            head = payload(ln)
            has_body = body_follows(ln) and i + 1 < len(lines)
            out.append((head, lines[i + 1] if has_body else None))
        return out

    def _delete(self, index: int) -> None:
        try:
            self._ch.command(f"AT+CMGD={index}", timeout=self._timeout)
        except ModemCommandError as exc:
            log.warning("SMS %d could not be deleted: %s", index, exc)

    # ---- decoding -------------------------------------------------------------
    def _take(self, hexdata: str) -> None:
        try:
            msg = pdu.decode(hexdata)
        except pdu.PduError as exc:
            self.counters["sms_undecodable"] += 1
            # the slot is deleted (else every sweep would read it again): the log keeps it
            log.warning("SMS PDU tidak terbaca / undecodable SMS PDU (%s): %s", exc, hexdata)
            return
        self.accept(msg)

    def _take_text(self, fields: list[str], body: str, charset: str) -> None:
        try:
            msg = textmode.decode(fields, body, charset=charset)
        except pdu.PduError as exc:
            self.counters["sms_undecodable"] += 1
            log.warning("SMS teks tidak terbaca / undecodable text-mode SMS (%s): %s / %s",
                        exc, ",".join(fields), body)
            return
        self.accept(msg)

    def on_cmt(self, header: str, body: str) -> None:
        """Reader thread: ``+CMT`` in PDU mode (``+CMT: [<alpha>],<length>`` + PDU)
        or in text mode (``+CMT: <oa>,<alpha>,<scts>[,...]`` + body)."""
        fields = split_fields(payload(header))
        if len(fields) == 2 and fields[1].isdigit():
            self._take(body)
        else:
            self._take_text(fields, body, "IRA")

    def on_status_report(self) -> None:
        """``+CDS`` pushed by the modem: recognised, counted, not an SMS for anyone."""
        self.counters["sms_status_reports"] += 1

    def accept(self, msg: pdu.Received) -> None:
        if msg.kind == "status_report":
            self.counters["sms_status_reports"] += 1
            log.info("SMS status report ignored")
            return
        if msg.concat is None or msg.concat[1] <= 1:
            self._deliver(msg.sender, msg.text, msg.sent_at, 1, (), msg.alphabet)
            return
        ref, total, seq = msg.concat
        if not 1 <= seq <= total:
            self.counters["sms_bad_parts"] += 1
            return
        key = (msg.sender, ref, total)
        with self._lock:
            entry = self._partial.setdefault(
                key, _Partial(total, time.monotonic(), msg.sent_at, msg.alphabet))
            if seq in entry.parts:
                self.counters["sms_duplicate_parts"] += 1
                return
            entry.parts[seq] = msg.text
            if seq == 1:  # the first part's stamp and coding name the message
                entry.sent_at, entry.encoding = msg.sent_at, msg.alphabet
            if len(entry.parts) < total:
                return
            del self._partial[key]
        self._deliver_partial(key[0], entry)

    def expire_partial(self, ttl: float | None = None) -> None:
        """Deliver what we have of multipart messages whose other parts never came."""
        ttl = self.concat_timeout if ttl is None else ttl
        now = time.monotonic()
        with self._lock:
            stale = [(k, e) for k, e in self._partial.items() if now - e.first >= ttl]
            for key, _ in stale:
                del self._partial[key]
        for key, entry in stale:
            self.counters["sms_incomplete"] += 1
            self._deliver_partial(key[0], entry)

    def _deliver_partial(self, sender: str, entry: _Partial) -> None:
        missing = tuple(i for i in range(1, entry.total + 1) if i not in entry.parts)
        text = "".join(entry.parts[k] for k in sorted(entry.parts))
        self._deliver(sender, text, entry.sent_at, entry.total, missing, entry.encoding)

    def _deliver(self, number: str, text: str, sent_at: datetime | None, parts: int,
                 missing: tuple[int, ...], encoding: str) -> None:
        self.counters["sms_received"] += 1
        self._emit(SmsReceived(at=time.monotonic(), number=number, text=text, sent_at=sent_at,
                               parts=parts, missing=missing, encoding=encoding))


def _text_body_follows(listing: bool):
    def follows(line: str) -> bool:
        return not textmode.is_status_report(payload(line), listing=listing)

    return follows

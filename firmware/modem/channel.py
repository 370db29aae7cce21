"""The AT channel: one serial port, one reader thread, one command at a time.

The reader thread owns the read side. Each line is either part of the
pending command's answer (its echo, its info lines, its final result code)
or an unsolicited result code handed to ``on_urc`` (which must not block and
must not send commands: the driver only updates state and queues work there).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware.modem.errors import ModemCommandError, ModemPortError, ModemTimeout
from firmware.modem.parser import (
    CALL_FINALS,
    PROMPT,
    Final,
    LineSplitter,
    error_number,
    final_code,
    is_urc,
    urc_needs_body,
)

log = logging.getLogger(__name__)

UrcHandler = Callable[[str, str | None], None]


@dataclass
class Response:
    command: str
    lines: list[str]
    final: str
    missing_final: bool = False  # complete info answer, no OK: accepted after the grace

    def info(self, prefix: str) -> list[str]:
        """Payloads of the lines that start with ``prefix`` (e.g. ``+CSQ:``)."""
        return [ln[len(prefix) :].strip() for ln in self.lines if ln.startswith(prefix)]

    def first(self, prefix: str) -> str | None:
        got = self.info(prefix)
        return got[0] if got else None


@dataclass
class _Pending:
    command: str
    expect: str | None
    call: bool  # ATD/ATA: NO CARRIER, BUSY... end it instead of being URCs
    data: bytes | None
    body_after: bool | Callable[[str], bool]  # an ``expect`` line is followed by one raw
    # data line (+CMGR); a callable decides per ``expect`` line (a status report has none)
    require: bool = False  # an OK before the ``expect`` line is a stale one, not ours
    grace: float | None = None  # accept a missing final this long after the ``expect`` line
    info_at: float | None = None  # when the (last) ``expect`` line came
    aborted: bool = False  # the channel was closed under it
    lines: list[str] = field(default_factory=list)
    final: str | None = None
    final_kind: Final | None = None
    done: threading.Event = field(default_factory=threading.Event)
    prompt: threading.Event = field(default_factory=threading.Event)


class AtChannel:
    def __init__(self, url: str, *, baudrate: int, on_urc: UrcHandler) -> None:
        self.url = url
        self.baudrate = baudrate
        self._on_urc = on_urc
        self._port: Any = None  # a pyserial SerialBase once open
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._cmd_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._pending: _Pending | None = None
        self._splitter = LineSplitter()
        self._urc_body_for: str | None = None
        self._take_body = False
        self.counters: Counter[str] = Counter()
        self.last_rx = 0.0
        self.suspect = threading.Event()  # a command timed out: the watchdog should look now
        self.reopen_delay = 1.0
        self._dirty = False  # a command timed out: resync before the next one

    # ---- lifecycle ----------------------------------------------------------
    def open(self) -> None:
        self._port = self._open_port()
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, name="modem-reader", daemon=True)
        self._reader.start()

    def _open_port(self):
        import serial  # lazy: the rest of the firmware imports without pyserial

        try:
            return serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemPortError(f"cannot open {self.url}: {exc}") from exc

    def _reopen(self) -> None:
        """The port broke (USB modem re-enumerated, socket dropped): reopen it,
        once a second, until it works or the channel is closed."""
        old, self._port = self._port, None
        with contextlib.suppress(Exception):
            old.close()
        self._splitter.reset()
        self._urc_body_for = None
        while not self._stop.wait(self.reopen_delay):
            try:
                self._port = self._open_port()
            except ModemPortError as exc:
                log.debug("reopen failed: %s", exc)
                continue
            self.counters["reopens"] += 1
            log.warning("Port modem dibuka ulang / modem port reopened: %s", self.url)
            return

    def close(self) -> None:
        self._stop.set()
        with self._state_lock:  # a command waiting on a closing port fails now, not at its timeout
            p = self._pending
            if p is not None:
                p.aborted = True
                p.prompt.set()
                p.done.set()
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self._port is not None:
            try:
                self._port.close()
            except Exception:  # closing a dead port must not mask the caller's error
                log.debug("closing the port failed", exc_info=True)
        self._port = None

    @property
    def garbage(self) -> int:
        return self._splitter.garbage

    # ---- reading ------------------------------------------------------------
    def _read_loop(self) -> None:
        while not self._stop.is_set():
            port = self._port
            if port is None:
                return
            try:
                data = port.read(max(1, port.in_waiting))
            except Exception as exc:  # SerialException, OSError: unplugged, socket closed
                self.counters["read_errors"] += 1
                log.warning("Port modem gagal dibaca / modem port read failed: %s", exc)
                self._reopen()
                continue
            if data:
                self.last_rx = time.monotonic()
                self.feed(data)

    def feed(self, data: bytes) -> None:
        """Process received bytes (the reader thread's work; public for tests).

        Never raises: a bug in handling one line is counted and logged, and
        the reader goes on with the next.
        """
        for line in self._splitter.feed(data):
            try:
                self._on_line(line)
            except Exception:
                self.counters["handler_errors"] += 1
                log.exception("AT line handling failed: %r", line)

    def _on_line(self, line: str) -> None:
        if self._urc_body_for is not None:
            header, self._urc_body_for = self._urc_body_for, None
            self._urc(header, line)
            return
        with self._state_lock:
            p = self._pending
        if p is not None and not p.done.is_set():
            if self._take_body:
                self._take_body = False
                p.lines.append(line)
                return
            if line == PROMPT:
                if p.data is not None:
                    p.prompt.set()
                else:
                    self.counters["unexpected"] += 1
                return
            if line == p.command:  # echo (ATE1 after a modem reboot)
                return
            kind = final_code(line)
            if kind is not None and (kind not in CALL_FINALS or p.call):
                if (kind is Final.OK and p.require and p.expect
                        and not any(ln.startswith(p.expect) for ln in p.lines)):
                    self.counters["stray_finals"] += 1  # the late OK of a command that timed out
                    return
                p.final, p.final_kind = line, kind
                p.done.set()
                return
            if p.expect and line.startswith(p.expect):
                p.lines.append(line)
                body = p.body_after
                self._take_body = body(line) if callable(body) else body
                p.info_at = time.monotonic()
                return
            if kind is not None or is_urc(line):
                self._route_urc(line)
                return
            p.lines.append(line)
            return
        if line == PROMPT:
            self.counters["unexpected"] += 1
            return
        kind = final_code(line)
        if kind is not None and kind not in CALL_FINALS:
            # a late answer to a command that already timed out
            self.counters["stray_finals"] += 1
            return
        self._route_urc(line)

    def _route_urc(self, line: str) -> None:
        if urc_needs_body(line):
            self._urc_body_for = line
        else:
            self._urc(line, None)

    def _urc(self, line: str, body: str | None) -> None:
        self.counters["urcs"] += 1
        self._on_urc(line, body)

    # ---- commands -----------------------------------------------------------
    def command(
        self,
        command: str,
        *,
        timeout: float,
        expect: str | None = None,
        call: bool = False,
        data: bytes | None = None,
        body_after: bool | Callable[[str], bool] = False,
        check: bool = True,
        require: bool = False,
        grace: float | None = None,
    ) -> Response:
        """Send one command and wait for its final result code.

        ``expect`` is the info prefix of the answer (``+CREG:``): lines with it
        belong to this command even if the same prefix is also a URC. ``data``
        is written after the ``> `` prompt, then Ctrl-Z. A failure result code
        raises :class:`ModemCommandError` unless ``check`` is false. ``require``:
        the ``expect`` line must come before the OK (a query that always has one).
        ``grace``: if the ``expect`` line came but no final result code followed
        within this many seconds, the answer is taken as complete (Wavecom's
        ``+CPIN: READY`` has no OK); ``Response.missing_final`` says so.
        """
        with self._cmd_lock:
            if self._dirty:
                self._resync(timeout)
            return self._run(command, timeout, expect, call, data, body_after, check, require, grace)

    def _resync(self, timeout: float) -> None:
        """After a timeout the modem may still answer the old command, and its
        late OK would pass for the next one's. A query whose answer has its own
        info line tells old from new: only the OK after ``+CMEE:`` is ours."""
        self._run("AT+CMEE?", timeout, "+CMEE:", False, None, False, False, True, None)
        self._dirty = False
        self.counters["resyncs"] += 1

    def _run(self, command, timeout, expect, call, data, body_after, check, require, grace) -> Response:
        p = _Pending(command, expect, call, data, body_after, require, grace)
        with self._state_lock:
            if self._stop.is_set():  # close() has begun: it may not see this command
                raise ModemPortError(f"{self.url} is closing")
            self._pending = p
            self._take_body = False
        deadline = time.monotonic() + timeout
        try:
            self._write(command.encode("ascii") + b"\r")
            if data is not None:
                if not p.prompt.wait(timeout) and not p.done.is_set():
                    self._write(b"\x1b")  # leave data mode
                    raise self._timed_out(command, timeout, "no > prompt")
                if not p.done.is_set():
                    self._write(data + b"\x1a")
            if not self._wait_final(p, deadline):
                raise self._timed_out(command, timeout, "no final result")
        finally:
            with self._state_lock:
                self._pending = None
                self._take_body = False
        if p.aborted:
            raise ModemPortError(f"{self.url} closed during {command!r}")
        if p.final is None:  # the grace accepted an answer without its final code
            self.counters["missing_finals"] += 1
            self._dirty = True  # a late OK must not pass for the next command's
            return Response(command, p.lines, "", missing_final=True)
        resp = Response(command, p.lines, p.final)
        if check and p.final_kind not in (Final.OK, Final.CONNECT):
            code = error_number(resp.final) if p.final_kind in (Final.CME, Final.CMS) else None
            raise ModemCommandError(command, resp.final, code)
        return resp

    def _wait_final(self, p: _Pending, deadline: float) -> bool:
        """True when the final came, or the info answer did and the grace ran out."""
        while True:
            left = deadline - time.monotonic()
            if p.grace is None:
                return p.done.wait(max(0.0, left))
            if p.done.wait(max(0.0, min(left, 0.02))):
                return True
            if p.info_at is not None and time.monotonic() - p.info_at >= p.grace:
                with self._state_lock:
                    if p.final is None:
                        p.done.set()  # late lines now go the URC way
                        return True
                return True
            if left <= 0:
                return False

    def _timed_out(self, command: str, timeout: float, what: str) -> ModemTimeout:
        self.counters["timeouts"] += 1
        self._dirty = True
        self.suspect.set()
        return ModemTimeout(f"{command!r}: {what} in {timeout:.1f}s")

    def _write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise ModemPortError(f"{self.url} is not open (reopening)")
        try:
            port.write(data)
            port.flush()
        except Exception as exc:
            self.counters["write_errors"] += 1
            raise ModemPortError(f"write to {self.url} failed: {exc}") from exc

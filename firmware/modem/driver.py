"""The GSM modem driver: init, calls, SMS, status, and the watchdog.

Three threads: the caller's (``answer()``, ``send_sms()``...), the reader
(owned by :class:`AtChannel`, turns URCs into state and events, never runs
user code and never sends), and the supervisor (runs work the reader queues,
such as reading a stored SMS, and the watchdog: probe, re-init, reset).
"""

from __future__ import annotations

import logging
import queue
import time
from collections import Counter
from datetime import datetime

from firmware.modem import info
from firmware.modem.calls import CallTracker
from firmware.modem.channel import AtChannel
from firmware.modem.errors import ModemCommandError, ModemError, ModemStateError, ModemTimeout
from firmware.modem.events import (
    CallState,
    EndReason,
    ModemEvent,
    ModemFault,
    ModemRestarted,
    NetworkTime,
    RegistrationChanged,
)
from firmware.modem.health import Supervisor
from firmware.modem.messaging import TEXT_CSMP, Messaging
from firmware.modem.parser import final_code, payload, split_fields
from firmware.modem.sms import NUMBER_RE, decode_number

log = logging.getLogger(__name__)

PROFILES = ("sim800", "sim7600")

#: (command, required) run after every (re)start; optional ones may fail on some firmware
INIT_COMMON = [
    ("ATE0", True),
    ("AT+CMEE=2", False),  # verbose errors: +CME ERROR: <text>
    ("AT+CLIP=1", True),  # caller id
    ("AT+CLCC=1", False),  # call state URCs
    ("AT+CMGF=1", True),  # SMS text mode
    ('AT+CSCS="IRA"', True),
    (TEXT_CSMP, False),
    ("AT+CSDH=1", False),  # show dcs/fo in +CMGR, to tell UCS2 and multipart apart
    ("AT+CNMI=2,1,0,0,0", True),  # new SMS -> +CMTI, stored
    ("AT+CREG=1", True),  # registration URCs
    ("AT+CGREG=1", False),
]
INIT_PROFILE = {
    "sim800": [("AT+CLTS=1", False)],  # network time -> *PSUTTZ
    "sim7600": [("AT+CTZU=1", False), ("AT+CTZR=1", False)],
}

_FAULT_URCS = {
    "UNDER-VOLTAGE WARNNING": ("under_voltage", False),
    "UNDER-VOLTAGE WARNING": ("under_voltage", False),
    "OVER-VOLTAGE WARNNING": ("over_voltage", False),
    "OVER-VOLTAGE WARNING": ("over_voltage", False),
    "UNDER-VOLTAGE POWER DOWN": ("under_voltage_power_down", True),
    "OVER-VOLTAGE POWER DOWN": ("over_voltage_power_down", True),
    "NORMAL POWER DOWN": ("power_down", True),
}


class Modem:
    """A SIM800 / SIM7600 class modem on a serial port (or pty, or ``socket://``)."""

    def __init__(
        self,
        url: str,
        *,
        profile: str = "sim800",
        baudrate: int = 115200,
        reset_pin: int | None = None,
        command_timeout: float = 5.0,
        watchdog_interval: float = 10.0,
        sms_timeout: float = 60.0,
        dial_timeout: float = 30.0,
        boot_timeout: float = 15.0,
        reset_pulse: float = 1.2,
        backoff: tuple[float, float] = (1.0, 60.0),
        clip_wait: float = 0.3,
    ) -> None:
        if profile not in PROFILES:
            raise ModemStateError(f"Profil modem tidak dikenal / unknown modem profile: {profile!r}")
        self.url = url
        self.profile = profile
        self.reset_pin = reset_pin
        self.command_timeout = command_timeout
        self.dial_timeout = dial_timeout
        self.events: queue.Queue[ModemEvent] = queue.Queue()
        self.resets = 0
        self.counters: Counter[str] = Counter()
        self._registration = "unknown"
        self._net_time: tuple[datetime, float] | None = None
        self._channel = AtChannel(url, baudrate=baudrate, on_urc=self._on_urc)
        self._calls = CallTracker(self._emit, clip_wait=clip_wait)
        self._sms = Messaging(
            self._channel, self._emit, command_timeout=command_timeout, sms_timeout=sms_timeout
        )
        self._supervisor = Supervisor(
            self,
            interval=watchdog_interval,
            boot_timeout=boot_timeout,
            reset_pulse=reset_pulse,
            backoff=backoff,
        )
        self._started = False

    # ---- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self._channel.open()
        try:
            self.initialise()
        except ModemError:
            self._channel.close()
            raise
        self._supervisor.start()
        self._supervisor.submit("sweep_sms", None)
        self._started = True

    def close(self) -> None:
        self._supervisor.request_stop()  # no new recovery round
        self._channel.close()  # fails whatever command is waiting
        self._supervisor.stop()
        self._started = False

    def __enter__(self) -> Modem:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def initialise(self) -> None:
        """Run the init sequence; raises ModemError if a required step fails."""
        self.sync(attempts=3)
        for cmd, required in INIT_COMMON + INIT_PROFILE[self.profile]:
            try:
                self.at(cmd)
            except ModemCommandError as exc:
                if required:
                    raise ModemError(f"init failed at {cmd}: {exc.result}") from exc
                log.info("optional init step %s refused: %s", cmd, exc.result)
        try:
            if not self._sim_ready():
                self._fault("sim_not_ready", "SIM tidak siap / SIM not ready")
        except ModemCommandError as exc:
            self._fault("sim_missing", exc.result)
        self.registration()

    def _sim_ready(self) -> bool:
        return self.at("AT+CPIN?", expect="+CPIN:", require=True).first("+CPIN:") == "READY"

    def sync(self, attempts: int = 3, timeout: float | None = None) -> None:
        """Plain ``AT`` until the modem answers (wakes autobaud, flushes junk)."""
        last: Exception | None = None
        for _ in range(attempts):
            try:
                self._channel.command("AT", timeout=timeout or min(self.command_timeout, 2.0))
                return
            except (ModemTimeout, ModemCommandError) as exc:
                last = exc
        raise ModemTimeout(f"Modem tidak menjawab / modem does not answer: {last}")

    def at(self, command: str, *, timeout: float | None = None, expect: str | None = None, **kw):
        """Send one raw AT command (for self-test, diagnostics and the driver)."""
        return self._channel.command(command, timeout=timeout or self.command_timeout, expect=expect, **kw)

    # ---- events -------------------------------------------------------------
    def _emit(self, event: ModemEvent) -> None:
        self.events.put(event)

    def _fault(self, code: str, detail: str = "", **extra: str) -> None:
        self.counters[f"fault_{code}"] += 1
        log.warning("Gangguan modem / modem fault: %s %s", code, detail)
        self._emit(ModemFault(at=time.monotonic(), code=code, detail=detail, extra=extra))

    def _on_urc(self, line: str, body: str | None) -> None:
        """Reader thread: update state, queue events and work; never send here."""
        c = self._calls
        if line == "RING":
            c.on_ring()
        elif line.startswith("+CLIP:"):
            f = split_fields(payload(line))
            c.on_clip(decode_number(f[0]) if f and f[0] else None)
        elif line.startswith("+CLCC:"):
            f = split_fields(payload(line))
            if len(f) > 5:
                f[5] = decode_number(f[5])
            c.on_clcc(f)
        elif (kind := final_code(line)) is not None:
            c.on_final(kind)
        elif line == "VOICE CALL: BEGIN":
            c.on_voice_begin()
        elif line.startswith("VOICE CALL: END"):
            c.on_voice_end(info.parse_duration(line.rpartition(":")[2]))
        elif line.startswith("MISSED_CALL:"):
            c.remote_end()
        elif line.startswith("+CMTI:"):
            f = split_fields(payload(line))
            try:
                self._supervisor.submit("read_sms", int(f[1]))
            except (ValueError, IndexError):
                self.counters["bad_urc"] += 1
        elif line.startswith("+CMT:"):
            self._sms.on_cmt(line, body or "")
        elif line.startswith("+CREG:"):
            text = payload(line)
            self._set_registration(info.creg_state(text, query=info.creg_is_query_answer(text)))
        elif line.startswith(("+CGREG:", "+CEREG:")):
            pass  # packet registration: voice and SMS follow +CREG
        elif line.startswith("+CPIN:"):
            state = payload(line)
            if state != "READY":
                self._fault("sim_not_ready", state)
        elif line == "RDY":
            self._supervisor.on_rdy()
        elif line in _FAULT_URCS:
            code, down = _FAULT_URCS[line]
            self._fault(code, line)
            if down:
                self._calls.fail(EndReason.MODEM_RESET)
                self._supervisor.note_power_down(code)
        elif line.startswith("*PSUTTZ:"):
            self._set_time(info.parse_psuttz(payload(line)))
        elif line.startswith(("+CTZV:", "DST:")):
            self._supervisor.submit("sync_time", None)
        elif line in ("Call Ready", "SMS Ready", "SMS DONE", "PB DONE") or line.startswith("+CFUN:"):
            log.info("modem: %s", line)
        else:
            self.counters["unknown_lines"] += 1
            log.info("Baris modem tak dikenal / unknown modem line: %r", line[:80])

    def _set_registration(self, state: str) -> None:
        if state != self._registration:
            self._registration = state
            self._emit(RegistrationChanged(at=time.monotonic(), state=state))

    def _set_time(self, when: datetime | None) -> None:
        if when is None:
            return
        self._net_time = (when, time.monotonic())
        self._emit(NetworkTime(at=time.monotonic(), time=when))

    def _restarted(self, reason: str) -> None:
        """Called by the supervisor after a successful recovery."""
        self.resets += 1
        self._emit(ModemRestarted(at=time.monotonic(), reason=reason, resets=self.resets))

    # ---- calls --------------------------------------------------------------
    @property
    def call_state(self) -> CallState:
        return self._calls.state

    @property
    def call_number(self) -> str | None:
        return self._calls.number

    def answer(self) -> bool:
        """Answer the ringing call. False if the caller hung up meanwhile."""
        if self._calls.state is not CallState.RINGING:
            raise ModemStateError("Tidak ada panggilan masuk / no call is ringing")
        resp = self.at("ATA", call=True, check=False, timeout=max(self.command_timeout, 10.0))
        if resp.final == "OK" or resp.final.startswith("CONNECT"):
            self._calls.activate()
            return True
        self._calls.remote_end()
        return False

    def hang_up(self) -> None:
        """End (or reject) the current call; a no-op when idle."""
        self._calls.begin_local_hangup()
        try:
            cmd = "AT+CHUP" if self.profile == "sim7600" else "ATH"
            self.at(cmd, check=False)
        finally:
            self._calls.local_hangup()

    def dial(self, number: str) -> None:
        """Start a voice call; progress comes as Alerting / CallActive / CallEnded."""
        number = number.strip()
        if not NUMBER_RE.match(number) and number not in ("112",):
            raise ModemStateError(f"Nomor tidak sah / invalid number: {number!r}")
        if self._calls.state is not CallState.IDLE:
            raise ModemStateError(f"Sedang ada panggilan / a call is in progress ({self._calls.state})")
        self._calls.dialling(number)
        try:
            resp = self.at(f"ATD{number};", call=True, check=False, timeout=self.dial_timeout)
        except ModemError:
            self._calls.fail(EndReason.ERROR)  # never leave a call "dialling" forever
            raise
        kind = final_code(resp.final)
        if resp.final == "OK":
            return
        if kind is not None:
            self._calls.on_final(kind)
        else:
            self._calls.fail(EndReason.ERROR)
        raise ModemCommandError(f"ATD{number};", resp.final)

    # ---- SMS ------------------------------------------------------------------
    def send_sms(self, number: str, text: str) -> int:
        """Send a text (multipart when long); returns how many parts went out."""
        return self._sms.send(number, text)

    # ---- status ---------------------------------------------------------------
    def signal(self) -> int | None:
        got = self.at("AT+CSQ", expect="+CSQ:", require=True).first("+CSQ:")
        return info.csq_to_dbm(got) if got is not None else None

    def registration(self) -> str:
        got = self.at("AT+CREG?", expect="+CREG:", require=True).first("+CREG:")
        state = info.creg_state(got, query=True) if got is not None else "unknown"
        self._set_registration(state)
        return state

    def network_time(self) -> datetime | None:
        """Network time: the modem clock if the network set it, else the last
        time URC advanced by the host's monotonic clock; None if neither."""
        try:
            got = self.at("AT+CCLK?", expect="+CCLK:", require=True).first("+CCLK:")
        except ModemCommandError:
            got = None
        when = info.parse_clock(got) if got else None
        if when is not None:
            return when
        if self._net_time is not None:
            from datetime import timedelta

            base, seen = self._net_time
            return base + timedelta(seconds=time.monotonic() - seen)
        return None

    def self_test(self) -> dict:
        """A summary for the fleet's self-test command; never raises on modem errors."""
        out: dict = {"profile": self.profile, "resets": self.resets, "responds": False,
                     "sim_ready": False, "registered": False, "registration": "unknown",
                     "signal_dbm": None, "model": None, "errors": []}
        try:
            self.sync(attempts=2)
            out["responds"] = True
        except ModemError as exc:
            out["errors"].append(f"responds: {exc}")
            return out
        steps = {
            "sim_ready": self._sim_ready,
            "registration": self.registration,
            "signal_dbm": self.signal,
            "model": lambda: next(iter(self.at("AT+CGMM").lines), None),
        }
        for key, fn in steps.items():
            try:
                out[key] = fn()
            except ModemError as exc:
                out["errors"].append(f"{key}: {exc}")
        out["registered"] = out["registration"] in ("home", "roaming")
        out["call_state"] = str(self.call_state)
        out["counters"] = dict(self.counters + self._channel.counters)
        out["garbage_bytes"] = self._channel.garbage
        return out

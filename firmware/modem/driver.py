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

from firmware.modem import info, init
from firmware.modem.calls import CallTracker
from firmware.modem.callwatch import CallWatch
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
from firmware.modem.inbox import CONCAT_TTL, Inbox
from firmware.modem.messaging import Messaging
from firmware.modem.parser import Final, final_code, payload, split_fields
from firmware.modem.sms import NUMBER_RE, decode_number

log = logging.getLogger(__name__)

#: AT dialects: SIMCom 2G, SIMCom 4G (A7670 alike), and "generic" for other
#: makers (Huawei, ZTE, Quectel, Wavecom, phones): 27.007 only, no vendor init
PROFILES = ("sim800", "sim7600", "generic")

#: Huawei ^CEND call control causes (24.008 10.5.4.11) that name the reason
_CEND_CAUSES = {"17": Final.BUSY, "18": Final.NO_ANSWER, "19": Final.NO_ANSWER}

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
        clcc_poll: float = 2.0,
        max_call: float = 4 * 3600.0,
        concat_timeout: float = CONCAT_TTL,
        final_grace: float = init.FINAL_GRACE,
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
        self._inbox = Inbox(self._channel, self._emit, command_timeout=command_timeout,
                            mode_lock=self._sms.mode_lock, concat_timeout=concat_timeout)
        self._callwatch = CallWatch(self, poll_interval=clcc_poll, max_call=max_call)
        self.final_grace = final_grace
        self.init_report: dict[str, str] = {}
        self._no_final: set[str] = set()  # queries answered without OK (a maker's quirk)
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
        """Run the init sequence; raises ModemError only if a required step fails.
        Each step's outcome lands in ``init_report`` (and the self-test)."""
        report = init.run(self)
        try:
            if not self._sim_ready():
                self._fault("sim_not_ready", "SIM tidak siap / SIM not ready")
            report["AT+CPIN?"] = self._outcome("AT+CPIN?")
        except ModemCommandError as exc:
            report["AT+CPIN?"] = f"refused: {exc.result}"
            self._fault("sim_missing", exc.result)
        except ModemTimeout:
            report["AT+CPIN?"] = "timeout"
            self._fault("sim_not_ready", "AT+CPIN? tidak dijawab / not answered")
        try:
            self.registration()
            report["AT+CREG?"] = self._outcome("AT+CREG?")
        except ModemError as exc:
            report["AT+CREG?"] = "timeout" if isinstance(exc, ModemTimeout) else f"refused: {exc}"

    def _outcome(self, cmd: str) -> str:
        return "ok (no final result code)" if cmd in self._no_final else "ok"

    def _query(self, cmd: str, prefix: str) -> str | None:
        """A query that always has an info line; a missing OK after it is tolerated."""
        resp = self.at(cmd, expect=prefix, require=True, grace=self.final_grace)
        if resp.missing_final:
            if cmd not in self._no_final:
                log.warning("Modem tidak mengirim OK setelah / modem sent no OK after %s", cmd)
            self._no_final.add(cmd)
        return resp.first(prefix)

    def _sim_ready(self) -> bool:
        return self._query("AT+CPIN?", "+CPIN:") == "READY"

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
        elif line.startswith("^CEND:"):
            f = split_fields(payload(line))  # ^CEND:<id>,<duration>,<end status>,<cc cause>
            c.on_final(_CEND_CAUSES.get(f[3] if len(f) > 3 else "", Final.NO_CARRIER))
        elif line.startswith(("MISSED_CALL:", "HANGUP:")):
            c.remote_end()  # SIM800 missed call / ZTE, Qualcomm call end
        elif line.startswith("^CONN:"):
            c.on_voice_begin()  # Huawei: call connected
        elif line.startswith("^CONF:"):
            c.on_alerting()  # Huawei: ringback, the far end rings
        elif line.startswith("^ORIG:"):
            pass  # Huawei: our ATD started a call (the tracker knows already)
        elif line.startswith(("+CMTI:", "+CDSI:")):
            f = split_fields(payload(line))
            try:
                self._supervisor.submit("read_sms", int(f[1]))
            except (ValueError, IndexError):
                self.counters["bad_urc"] += 1
        elif line.startswith("+CMT:"):
            self._inbox.on_cmt(line, body or "")
        elif line.startswith("+CDS:"):
            self._inbox.on_status_report()
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
        elif line in ("Call Ready", "SMS Ready", "SMS DONE", "PB DONE") or line.startswith(
                ("+CFUN:", "+WIND:")):
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
        if _connected(resp.final):
            self._calls.activate()
            return True
        self._calls.remote_end()
        return False

    def hang_up(self) -> None:
        """End (or reject) the current call; a no-op when idle."""
        self._calls.begin_local_hangup()
        try:
            self._hang_up_command()
        finally:
            self._calls.local_hangup()

    def _hang_up_command(self) -> None:
        """``AT+CHUP`` where the profile prefers it, ``ATH`` otherwise; the other if refused."""
        first, other = ("ATH", "AT+CHUP") if self.profile == "sim800" else ("AT+CHUP", "ATH")
        final = self.at(first, check=False).final
        if final == "ERROR" or final.startswith("+CME ERROR"):
            self.at(other, check=False)

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
        if _connected(resp.final):  # modems that answer ATD only once the far end picks up
            self._calls.activate()
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
        got = self._query("AT+CSQ", "+CSQ:")
        return info.csq_to_dbm(got) if got is not None else None

    def registration(self) -> str:
        got = self._query("AT+CREG?", "+CREG:")
        state = info.creg_state(got, query=True) if got is not None else "unknown"
        self._set_registration(state)
        return state

    def network_time(self) -> datetime | None:
        """Network time: the modem clock if the network set it, else the last
        time URC advanced by the host's monotonic clock; None if neither."""
        try:
            got = self._query("AT+CCLK?", "+CCLK:")
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

    def audio_loop(self, record_s: float = 1.0) -> dict:
        """Tone through the speaker, recorded by the microphone (firmware/modem/audio.py);
        skipped (``ok: None``) during a call: the test would play into it."""
        from firmware.modem.audio import audio_loop

        if self.call_state not in (CallState.IDLE, CallState.ENDED):
            return {"supported": True, "ok": None, "speaker": None, "microphone": None,
                    "detail": "panggilan berlangsung / call in progress"}
        return audio_loop(self, record_s=record_s)

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
        out["init"] = dict(self.init_report)
        out["quirks"] = init.quirks(self.init_report) + sorted(
            f"{cmd}: {self._outcome(cmd)}" for cmd in self._no_final if cmd not in self.init_report)
        out["counters"] = dict(self.counters + self._channel.counters + self._inbox.counters)
        out["garbage_bytes"] = self._channel.garbage
        return out


def _connected(final: str) -> bool:
    """``OK`` or ``CONNECT [<text>]`` after ATA / ATD: the call is up."""
    return final == "OK" or final.startswith("CONNECT")

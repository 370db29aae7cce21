"""A simulated GSM modem (SIMCom and other makers' profiles) on a pty or TCP socket.

The driver under test talks real bytes to it through pyserial; tests and
the demo steer the "network" through the control API (incoming call, remote
hang-up, SMS, lost registration) and break it on purpose (silence, reboot,
slow replies, garbage, split writes, a URC inside a reply, brownout).
Every timing is a constructor argument, so tests never wait real seconds.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from firmware.modem import sms as smscodec
from firmware.sim.profiles import PROFILES, Profile
from firmware.sim.scheduler import Scheduler
from firmware.sim.sim_calls import CallSide, SimulatorError
from firmware.sim.sim_sms import STORAGE_SLOTS, WIB, SmsSide
from firmware.sim.transport import PtyEndpoint, TcpEndpoint

log = logging.getLogger(__name__)

__all__ = ["STORAGE_SLOTS", "WIB", "ModemSimulator", "SimulatorError"]


def _defaults() -> dict:
    return {
        "echo": True, "cmee": 0, "clip": 0, "clcc": 0, "cmgf": 0, "cscs": "IRA",
        "csmp": [17, 167, 0, 0], "csdh": 0, "cnmi_mt": 1, "creg": 0, "cgreg": 0, "cereg": 0,
        "clts": 0, "ctzu": 0, "ctzr": 0, "cfun": 1,
    }


class ModemSimulator(CallSide, SmsSide):
    def __init__(
        self,
        profile: str = "sim800",
        *,
        ring_interval: float = 3.0,
        boot_delay: float = 0.3,
        alert_delay: float = 0.1,
        reset_hold: float = 0.05,
        clcc_before_final: bool = False,
        seed: int | None = None,
        pdu_mode: bool = True,
        atd_waits: bool = False,
    ) -> None:
        if profile not in PROFILES:
            raise SimulatorError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        self.profile: Profile = PROFILES[profile]
        self.ring_interval = ring_interval
        self.boot_delay = boot_delay
        self.alert_delay = alert_delay
        self.reset_hold = reset_hold
        self.clcc_before_final = clcc_before_final
        self.pdu_mode = pdu_mode  # False: AT+CMGF=0 is refused (a text-only modem)
        self.atd_waits = atd_waits  # True: ATD's final comes when the far end answers (CONNECT)
        self.ignore_commands: set[str] = set()  # commands (prefixes) never answered
        self.refuse_commands: set[str] = set()  # commands (prefixes) answered with ERROR
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._wlock = threading.Lock()
        self._ep: PtyEndpoint | TcpEndpoint | None = None
        self._sched = Scheduler()
        self._work: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._inbuf = bytearray()
        self.s = _defaults()
        # network and device state
        self.registered = True
        self.roaming = False
        self.rssi = 20
        self.sim_present = True
        # audio path (firmware/sim/sim_audio.py): a dead speaker or microphone
        self.speaker_ok = True
        self.mic_ok = True
        self.tone: tuple[int, float] | None = None  # (Hz, monotonic end) while AT+SIMTONE plays
        self.recordings: dict[int, dict] = {}
        self.silent = False
        self.powered = True
        self.reply_delay = 0.0
        self.split_writes = False
        self._reply_inserts: list[bytes] = []
        self._clock_base: tuple[datetime, float] | None = None  # network time, monotonic when set
        # calls
        self._call = None
        self._ring_job: int | None = None
        # SMS
        self.storage: dict[int, dict] = {}
        self._mr = 0
        self._concat: dict[tuple[str, int], dict] = {}
        self._data_mode: dict | None = None
        # records for tests
        self.sent_sms: list[tuple[str, str]] = []
        self.sent_parts: list[dict] = []
        self.dialled: list[str] = []
        self.commands: list[str] = []
        self.boots = 0
        self.dropped_input = 0
        # a simulated GSM network this modem is attached to (firmware/sim/network.py)
        self.network: Any = None
        self.number: str | None = None
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work_loop, name="sim-worker", daemon=True)
        self._worker.start()
        self._pin_thread: threading.Thread | None = None

        from firmware.sim.commands import AtInterpreter  # circular at import time

        self._at = AtInterpreter(self)

    # ---- transports -----------------------------------------------------------
    def start_pty(self) -> str:
        self._ep = PtyEndpoint(self._on_data)
        return self._ep.url

    def start_tcp(self, port: int = 0, host: str = "127.0.0.1") -> str:
        self._ep = TcpEndpoint(self._on_data, host=host, port=port)
        return self._ep.url

    @property
    def url(self) -> str:
        if self._ep is None:
            raise SimulatorError("not started")
        return self._ep.url

    def stop(self) -> None:
        self._stop.set()
        self._sched.stop()
        self._work.put(("stop", None))
        self._worker.join(timeout=2)
        if self._ep is not None:
            self._ep.close()

    def __enter__(self) -> ModemSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- input ------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        with self._lock:
            if self.silent or not self.powered:
                self.dropped_input += len(data)
                return
            self._inbuf.extend(data)
            while True:
                if self._data_mode is not None:
                    ends = [i for i in (self._inbuf.find(b"\x1a"), self._inbuf.find(b"\x1b")) if i >= 0]
                    if not ends:
                        return
                    cut = min(ends)
                    payload, ctrl = bytes(self._inbuf[:cut]), self._inbuf[cut]
                    del self._inbuf[: cut + 1]
                    mode, self._data_mode = self._data_mode, None
                    self._work.put(("data", (mode, payload, ctrl == 0x1A)))
                    continue
                cr = self._inbuf.find(b"\r")
                if cr < 0:
                    if len(self._inbuf) > 1024:
                        self._inbuf.clear()
                    return
                raw = bytes(self._inbuf[:cr])
                del self._inbuf[: cr + 1]
                line = raw.replace(b"\n", b"").decode("ascii", errors="replace").strip()
                if self.s["echo"]:
                    self._write(raw + b"\r")
                if line:
                    self._work.put(("cmd", line))
                    if line.upper().startswith("AT+CMGS="):
                        # typed data follows only after the prompt; hold parsing until then
                        self._data_mode = {"pending": True}

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            kind, item = self._work.get()
            if kind == "stop":
                return
            if self.reply_delay:
                time.sleep(self.reply_delay)
            with self._lock:
                if self.silent or not self.powered:
                    continue
                try:
                    if kind == "cmd":
                        self.commands.append(str(item))
                        cmd = str(item).upper()
                        if cmd.startswith(tuple(self.refuse_commands)):
                            self.reply([], "ERROR")
                        elif not cmd.startswith(tuple(self.ignore_commands)):
                            self._at.execute(str(item))
                    elif kind == "data":
                        mode, payload, send = item
                        self._at.finish_data(mode, payload, send)
                except Exception:
                    log.exception("simulator failed on %r", item)
                    self.reply([], "ERROR")

    # ---- output -----------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._ep is None or self.silent or not self.powered:
            return
        with self._wlock:
            if not self.split_writes:
                self._ep.write(data)
                return
            i = 0
            while i < len(data):
                n = self._rng.randint(1, 7)
                self._ep.write(data[i : i + n])
                i += n
                time.sleep(self._rng.choice((0, 0, 0.001)))

    def urc(self, line: str) -> None:
        if not line:
            return  # a profile without that report
        self._write(b"\r\n" + line.encode("ascii", errors="replace") + b"\r\n")

    def reply(self, lines: list[str], final: str | None) -> None:
        out = b"".join(b"\r\n" + ln.encode("ascii", errors="replace") + b"\r\n" for ln in lines)
        if self._reply_inserts:
            out += b"".join(self._reply_inserts)
            self._reply_inserts.clear()
        if final is not None:
            out += b"\r\n" + final.encode() + b"\r\n"
        self._write(out)

    def prompt(self, mode: dict) -> None:
        self._data_mode = mode
        self._write(b"\r\n> ")

    def error(self, code: int = 100, text: str = "unknown", *, sms: bool = False) -> None:
        kind = "+CMS ERROR" if sms else "+CME ERROR"
        if self.s["cmee"] == 0:
            self.reply([], "ERROR")
        elif self.s["cmee"] == 1:
            self.reply([], f"{kind}: {code}")
        else:
            self.reply([], f"{kind}: {text if not sms else code}")

    def enc(self, text: str) -> str:
        """A string parameter in the TE character set (+CSCS)."""
        return smscodec.ucs2_hex(text) if self.s["cscs"] == "UCS2" else text

    def dec(self, text: str) -> str:
        if self.s["cscs"] == "UCS2":
            got = smscodec.from_ucs2_hex(text)
            return got if got is not None else text
        return text

    # ---- time ---------------------------------------------------------------------
    def now_local(self) -> datetime | None:
        if self._clock_base is None:
            return None
        base, seen = self._clock_base
        return base + timedelta(seconds=time.monotonic() - seen)

    def set_network_time(self, when: datetime) -> None:
        """The network sends its time (NITZ): ``*PSUTTZ`` (SIM800) / ``+CTZV`` (SIM7600)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            self._clock_base = (when, time.monotonic())
            off = when.utcoffset() or timedelta()
            q = int(off.total_seconds() // 900)
            u = when.astimezone(UTC)
            if self.profile.name == "sim800" and self.s["clts"]:
                self.urc(f'*PSUTTZ: {u.year},{u.month},{u.day},{u.hour},{u.minute},{u.second},"{q:+d}",0')
                self.urc("DST: 0")
            elif self.profile.name == "sim7600" and self.s["ctzr"]:
                self.urc(f"+CTZV: {q:+d}")

    # ---- network and faults -------------------------------------------------------
    def set_registered(self, registered: bool, *, roaming: bool = False) -> None:
        with self._lock:
            self.registered, self.roaming = registered, roaming
            stat = (5 if roaming else 1) if registered else 2
            if self.s["creg"]:
                self.urc(f"+CREG: {stat}")
            if not registered and self._call:
                self._end_call("NO CARRIER")

    def set_signal(self, rssi: int) -> None:
        self.rssi = rssi

    def go_silent(self, silent: bool = True) -> None:
        """Stop answering and reporting (a hung modem). Input is dropped meanwhile."""
        with self._lock:
            self.silent = silent
            self._inbuf.clear()
            self._data_mode = None

    def set_reply_delay(self, seconds: float) -> None:
        self.reply_delay = seconds

    def set_split_writes(self, on: bool) -> None:
        self.split_writes = on

    def inject(self, raw: bytes) -> None:
        """Raw bytes on the line now (garbage, half lines, a URC)."""
        with self._lock:
            self._write(raw)

    def inject_in_next_reply(self, raw: bytes) -> None:
        """Bytes put between the next reply's info lines and its final code."""
        with self._lock:
            self._reply_inserts.append(raw)

    def under_voltage(self, power_down: bool = False) -> None:
        """Brownout: a warning, or the modem switches itself off (until reset)."""
        with self._lock:
            if not power_down:
                self.urc(self.profile.uv_warning)
                return
            self.urc(self.profile.uv_power_down)
            self._power_off()

    def _power_off(self) -> None:
        self._sched.cancel(self._ring_job)
        self._call = None
        self._data_mode = None
        self._inbuf.clear()
        self.powered = False

    def reboot(self) -> None:
        """The modem restarts by itself (brownout, firmware crash): the call is
        gone without NO CARRIER, settings are back to defaults, then RDY."""
        with self._lock:
            self._power_off()
            self._sched.later(self.boot_delay, self._boot)

    def power_on(self) -> None:
        with self._lock:
            if not self.powered:
                self._sched.later(self.boot_delay, self._boot)

    def _boot(self) -> None:
        with self._lock:
            self.s = _defaults()
            self.powered = True
            self.silent = False
            self.boots += 1
            for line in self.profile.boot:
                if line == "+CPIN: READY" and not self.sim_present:
                    line = "+CPIN: NOT INSERTED"
                self.urc(line)

    def attach_reset_pin(self, pin) -> None:
        """Watch a gpiozero mock pin wired to the modem's reset line (active low):
        a low pulse of at least ``reset_hold`` seconds reboots the modem."""

        def watch() -> None:
            low_since = None
            while not self._stop.is_set():
                low = not pin.state
                now = time.monotonic()
                if low and low_since is None:
                    low_since = now
                elif not low and low_since is not None:
                    if now - low_since >= self.reset_hold:
                        self.reboot()
                    low_since = None
                time.sleep(0.005)

        self._pin_thread = threading.Thread(target=watch, name="sim-reset-pin", daemon=True)
        self._pin_thread.start()

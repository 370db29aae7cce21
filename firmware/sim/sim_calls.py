"""The simulator's voice side: calls offered by the network, and how they end.

How a call's end is reported differs by maker (``Profile.end_report``):
SIMCom ``NO CARRIER`` (+ ``+CLCC ...,6``, SIM7600 ``VOICE CALL: END``),
Huawei ``^CEND``, ZTE/Qualcomm ``HANGUP: 1``, or nothing at all (a phone:
only ``AT+CLCC`` polling shows the call is gone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from firmware.errors import FirmwareError
from firmware.sim.state import SimState


class SimulatorError(FirmwareError, RuntimeError):
    """Misuse of the simulator's control API."""


class CallSide(SimState):
    """Mixin of :class:`ModemSimulator` (split out to keep each file short)."""

    @property
    def call_state(self) -> str:
        with self._lock:
            return self._call["state"] if self._call else "idle"

    @property
    def call_number(self) -> str | None:
        """The other party of the call in progress (None: no call, or withheld)."""
        with self._lock:
            return self._call["number"] if self._call else None

    def _clcc(self, stat: int) -> None:
        c = self._call
        if c and self.s["clcc"]:
            num = c["number"] or ""
            toa = 145 if num.startswith("+") else 129
            self.urc(f'+CLCC: 1,{c["dir"]},{stat},0,0,"{self.enc(num)}",{toa}')

    def incoming_call(self, number: str | None) -> None:
        """The network offers a call from ``number`` (None: caller id withheld)."""
        with self._lock:
            if self._call is not None:
                raise SimulatorError(f"a call is already {self._call['state']}")
            self._call = {"state": "ringing", "number": number, "dir": 1, "answered": None}
            self._clcc(4)
            self._ring()

    def _ring(self) -> None:
        with self._lock:
            if not self._call or self._call["state"] != "ringing":
                return
            self.urc("RING")
            if self.s["clip"]:
                num = self._call["number"]
                if num:
                    toa = 145 if num.startswith("+") else 129
                    self.urc(f'+CLIP: "{self.enc(num)}",{toa},"",0,"",0')
                else:
                    self.urc('+CLIP: "",128,"",0,"",0')
            self._ring_job = self._sched.later(self.ring_interval, self._ring)

    def remote_answer(self) -> None:
        """The called party picks up our outgoing call."""
        with self._lock:
            c = self._call
            if not c or c["dir"] != 0 or c["state"] not in ("dialling", "alerting"):
                raise SimulatorError("no outgoing call to answer")
            self._activate()

    def _activate(self) -> None:
        c = self._call
        if c is None:
            return
        c["state"] = "active"
        c["answered"] = time.monotonic()
        self._sched.cancel(self._ring_job)
        if self.profile.voice_urcs:
            self.urc("VOICE CALL: BEGIN")
        if self.profile.end_report == "huawei":
            self.urc("^CONN:1,0")
        if c["dir"] == 0 and self.atd_waits:
            self.reply([], "CONNECT")  # the final of the ATD still waiting
        self._clcc(0)

    def _alert(self) -> None:
        with self._lock:
            c = self._call
            if c and c["state"] == "dialling":
                c["state"] = "alerting"
                if self.profile.end_report == "huawei":
                    self.urc("^CONF:1")
                self._clcc(3)

    def remote_hangup(self) -> None:
        """The far end hangs up (or the caller gives up while it rings)."""
        self._end_call("NO CARRIER")

    def remote_busy(self) -> None:
        self._end_call("BUSY")

    def remote_no_answer(self) -> None:
        self._end_call("NO ANSWER")

    def _end_call(self, final: str | None, *, local: bool = False) -> None:
        with self._lock:
            c = self._call
            if not c:
                raise SimulatorError("no call")
            self._sched.cancel(self._ring_job)
            style = self.profile.end_report
            if style != "simcom":
                self._end_report(style, final, c)
                self._call = None
                return
            events: list[Callable[[], None]] = []
            if self.profile.voice_urcs and c["answered"] is not None:
                d = int(time.monotonic() - c["answered"])
                hhmmss = f"{d // 3600:02d}{d % 3600 // 60:02d}{d % 60:02d}"
                events.append(lambda: self.urc(f"VOICE CALL: END: {hhmmss}"))
            clcc = [lambda: self._clcc(6)]
            fin = [lambda: self.urc(final)] if final and not local else []
            events += (clcc + fin) if self.clcc_before_final else (fin + clcc)
            for ev in events:
                ev()  # _clcc reads self._call, so it is cleared only afterwards
            self._call = None

    def _end_report(self, style: str, final: str | None, c: dict[str, Any]) -> None:
        """Other makers: one vendor line for every end (ours too), or nothing."""
        if style == "huawei":
            d = int(time.monotonic() - c["answered"]) if c["answered"] is not None else 0
            cause = {"BUSY": 17, "NO ANSWER": 19}.get(final or "", 16)
            self.urc(f"^CEND:1,{d},104,{cause}")
        elif style == "zte":
            self.urc("HANGUP: 1")
        # "none": a phone that says nothing; AT+CLCC simply stops listing the call

    def _start_dial(self, number: str) -> None:
        self.dialled.append(number)
        self._call = {"state": "dialling", "number": number, "dir": 0, "answered": None}
        if self.profile.end_report == "huawei":
            self.urc("^ORIG:1,0")
        self._clcc(2)
        self._sched.later(self.alert_delay, self._alert)
        if self.network is not None:
            self.network.dial(self.number, number)


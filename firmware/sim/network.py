"""A simulated GSM network joining modem simulators and plain phones by number.

Why: the SMS fallback and the centre's modem are only testable end to end
when a box's ``AT+CMGS`` arrives as ``+CMTI`` at the centre's modem, and a
box's ``ATD`` rings the panel. Every cross-modem step runs on the network's
own timer thread (never inside the calling simulator's lock), after the
configured delay; ``loss`` drops that share of SMS (seeded); a modem out of
coverage is unregistered (``+CREG: 2``, ``ATD`` gets ``NO DIALTONE``) and its
incoming SMS wait at the "SMSC" until coverage returns, as on a real network.

Numbers are compared normalised (``0812...`` == ``+62812...``).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from firmware.sim.scheduler import Scheduler

if TYPE_CHECKING:
    from firmware.sim.simulator import ModemSimulator

log = logging.getLogger(__name__)


def normalise(number: str) -> str:
    n = number.strip().replace(" ", "").replace("-", "")
    if n.startswith("0") and len(n) > 4:
        return "+62" + n[1:]
    if n.startswith("62") and len(n) > 8:
        return "+" + n
    return n


@dataclass
class Phone:
    """A handset on the network (a citizen, an OPD duty officer): keeps what it gets."""

    number: str
    network: GsmNetwork
    inbox: list[tuple[str, str]] = field(default_factory=list)  # (from, text)
    rings: list[str] = field(default_factory=list)  # callers
    answer_calls: bool = False

    def send(self, to: str, text: str) -> None:
        self.network.send_sms(self.number, to, text)

    def call(self, to: str) -> None:
        self.network.dial(self.number, to)

    def texts(self) -> list[str]:
        with self.network.lock:
            return [t for _f, t in self.inbox]


class GsmNetwork:
    """In-process network; ``siaga sim network`` serves one with a control port."""

    def __init__(self, *, sms_delay_s: float = 0.2, call_delay_s: float = 0.1, loss: float = 0.0,
                 seed: int | None = None) -> None:
        self.sms_delay_s = sms_delay_s
        self.call_delay_s = call_delay_s
        self.loss = loss
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self._sched = Scheduler()
        self.modems: dict[str, ModemSimulator] = {}
        self.phones: dict[str, Phone] = {}
        self.coverage: dict[str, bool] = {}
        self._held: dict[str, list[tuple[str, str]]] = {}  # number -> SMS waiting for coverage
        self._calls: dict[str, str] = {}  # number -> the other party, both ways
        self.log: list[dict] = []  # every SMS: from, to, text, fate

    # ---- membership ---------------------------------------------------------
    def attach(self, number: str, sim: ModemSimulator) -> ModemSimulator:
        n = normalise(number)
        with self.lock:
            self.modems[n] = sim
            self.coverage[n] = True
        sim.network, sim.number = self, n
        return sim

    def phone(self, number: str) -> Phone:
        n = normalise(number)
        with self.lock:
            if n not in self.phones:
                self.phones[n] = Phone(n, self)
                self.coverage.setdefault(n, True)
            return self.phones[n]

    def set_coverage(self, number: str, on: bool) -> None:
        """Switch a modem's (or phone's) coverage; held SMS arrive when it returns."""
        n = normalise(number)
        with self.lock:
            self.coverage[n] = on
            held = self._held.pop(n, []) if on else []
            sim = self.modems.get(n)
        if sim is not None:
            self._sched.later(0, lambda: sim.set_registered(on))
        if not on and n in self._calls:
            self._sched.later(0, lambda: self._end(n, local=False))
        for frm, text in held:
            self._sched.later(self.sms_delay_s, functools.partial(self._deliver, frm, n, text))

    def covered(self, number: str) -> bool:
        with self.lock:
            return self.coverage.get(normalise(number), False)

    def close(self) -> None:
        self._sched.stop()

    # ---- SMS ----------------------------------------------------------------
    def send_sms(self, frm: str, to: str, text: str) -> None:
        """Called by a simulator when its ``AT+CMGS`` went out (all parts), or by a phone."""
        frm, to = normalise(frm), normalise(to)
        with self.lock:
            entry = {"from": frm, "to": to, "text": text, "fate": "queued"}
            self.log.append(entry)
            if self.loss and self._rng.random() < self.loss:
                entry["fate"] = "lost"
                return
        self._sched.later(self.sms_delay_s, lambda: self._deliver(frm, to, text, entry))

    def _deliver(self, frm: str, to: str, text: str, entry: dict | None = None) -> None:
        with self.lock:
            if not self.coverage.get(to, False) and (to in self.modems or to in self.phones):
                self._held.setdefault(to, []).append((frm, text))
                if entry is not None:
                    entry["fate"] = "held"
                return
            sim, phone = self.modems.get(to), self.phones.get(to)
            if entry is not None:
                entry["fate"] = "delivered" if (sim or phone) else "no_such_number"
            if phone is not None:
                phone.inbox.append((frm, text))
        if sim is not None:
            sim.receive_sms(frm, text)
        log.info("sms %s -> %s: %s", frm, to, "delivered" if (sim or phone) else "no such number")

    # ---- calls --------------------------------------------------------------
    def dial(self, frm: str, to: str) -> None:
        """A simulator's ``ATD`` (already dialling on its side) or a phone's call."""
        frm, to = normalise(frm), normalise(to)
        self._sched.later(self.call_delay_s, lambda: self._offer(frm, to))

    def _offer(self, frm: str, to: str) -> None:
        with self.lock:
            callee, phone = self.modems.get(to), self.phones.get(to)
            free = self.coverage.get(to, False) and to not in self._calls
            if free and (callee is not None or phone is not None):
                self._calls[frm], self._calls[to] = to, frm
        if not free or (callee is None and phone is None):
            caller = self.modems.get(frm)
            if caller is not None and caller.call_state != "idle":
                caller.remote_busy()
            return
        if callee is not None:
            callee.incoming_call(frm)
        elif phone is not None:
            phone.rings.append(frm)
            if phone.answer_calls:
                self._sched.later(self.call_delay_s, lambda: self.answered(to))

    def answered(self, number: str) -> None:
        """The called modem (ATA) or phone picked up: the caller's call goes active."""
        n = normalise(number)
        with self.lock:
            other = self._calls.get(n)
            caller = self.modems.get(other) if other else None
        if caller is not None:
            self._sched.later(self.call_delay_s, lambda: _quiet(caller.remote_answer))

    def hung_up(self, number: str) -> None:
        """``ATH`` / ``AT+CHUP`` on one side: the other side hears NO CARRIER."""
        self._sched.later(self.call_delay_s, lambda: self._end(normalise(number), local=True))

    def _end(self, n: str, *, local: bool) -> None:
        with self.lock:
            other = self._calls.pop(n, None)
            if other is not None:
                self._calls.pop(other, None)
        for who in ([other] if local else [n, other]):
            sim = self.modems.get(who) if who else None
            if sim is not None and sim.call_state != "idle":
                _quiet(sim.remote_hangup)

    def in_call(self, number: str) -> str | None:
        with self.lock:
            return self._calls.get(normalise(number))


def _quiet(fn) -> None:
    """A far end that already hung up is not an error of the network's."""
    from firmware.sim.sim_calls import SimulatorError

    try:
        fn()
    except SimulatorError as exc:
        log.debug("network: %s", exc)

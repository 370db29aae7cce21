"""What happens in the demo city: citizens press field-box buttons, and
112 calls ring the call-centre panel, where an operator answers, talks,
and classifies the call with a panel key.

The calls come in the shares an Indonesian 112 centre sees: most are not
emergencies (Jakarta 2024: 23 % pranks; Semarang 2025: 38.6 % pranks or
silent lines; Kediri 2025: 496 valid of 86,161), and one repeat prankster
calls again and again until the gateway flags the number."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass

from siaga.demo.units import SimUnit

log = logging.getLogger("siaga.demo.scenario")

FIELD_BUTTONS = ["medical", "fire", "security"]
#: panel keys of real emergencies
EMERGENCY_KEYS = ["cat_medical", "cat_fire", "cat_accident", "cat_disaster", "cat_security"]
CALLERS = ["+6281234500001", "+6285712300002", "+6281398700003", "+6287865400004"]
#: the number that keeps calling to joke: flagged after 3 prank/ghost calls (site `flags`)
PRANKSTER = "+6281299990000"
#: what a panel call turns out to be, and its share (sums to 1)
CALL_MIX = (("emergency", 0.30), ("information", 0.15), ("ghost", 0.25), ("prank", 0.20),
            ("test", 0.03), ("misdial", 0.07))
#: the panel key for each kind; information and test calls get an "other" key and are typed
#: at the console (the panel has no key for them); a misdial rings off before it is answered
KIND_KEY = {"information": "cat_other", "ghost": "type_ghost", "prank": "cat_prank", "test": "cat_other"}


@dataclass(frozen=True)
class PlannedCall:
    kind: str  # a protocol.reports.CallType value
    number: str
    key: str | None  # the panel key the operator presses; None: the caller rings off


def plan_call(rng: random.Random) -> PlannedCall:
    """The next 112 call: its kind by :data:`CALL_MIX`; pranks mostly from
    :data:`PRANKSTER`; the other non-emergencies from ever new numbers (a
    silent line must not flag a regular caller)."""
    kind = rng.choices([k for k, _ in CALL_MIX], [w for _, w in CALL_MIX])[0]
    fresh = f"+62813{rng.randrange(10**7, 10**8)}"
    if kind == "emergency":
        return PlannedCall(kind, rng.choice(CALLERS), rng.choice(EMERGENCY_KEYS))
    if kind == "prank":
        return PlannedCall(kind, PRANKSTER if rng.random() < 0.75 else fresh, KIND_KEY[kind])
    if kind == "misdial":
        return PlannedCall(kind, fresh, None)
    return PlannedCall(kind, fresh, KIND_KEY[kind])


class Scenario:
    """Runs events every ``interval_s`` (randomised) until stopped."""

    def __init__(self, boxes: list[SimUnit], panels: list[SimUnit], *, interval_s: float = 8.0,
                 talk_s: float = 3.0, seed: int | None = None) -> None:
        self.boxes = boxes
        self.panels = panels
        self.interval_s = interval_s
        self.talk_s = talk_s
        self.rng = random.Random(seed)
        self.presses = 0
        self.calls = 0
        self.box_calls = 0  # a box's dial-out rang the panel over the simulated network, answered
        self.errors = 0
        self.by_kind: dict[str, int] = {}
        #: calls whose type the panel cannot key (information, test): number -> kinds, oldest first,
        #: for the simulated console operator (what the caller said)
        self._said: dict[str, deque[str]] = {}
        self._rang_from: set[str] = set()  # numbers this scenario called from (not a visitor's)
        self._said_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-scenario", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        while not self._stop.wait(self.rng.uniform(0.5, 1.5) * self.interval_s):
            try:
                if self.panels and self.rng.random() < 0.4:
                    self.call(self.rng.choice(self.panels))
                elif self.boxes:
                    self.press(self.rng.choice(self.boxes))
            except Exception as exc:  # the demo goes on; the log says what failed
                self.errors += 1
                log.warning("demo event failed: %s", exc)

    def press(self, box: SimUnit) -> str:
        button = self.rng.choice(FIELD_BUTTONS)
        reply = box.send(f"press {button} 0.2")
        self.presses += 1
        log.info("Warga menekan / citizen pressed %s on %s -> %s", button, box.device_id, reply)
        if reply.startswith("recorded"):
            if box.modem.network is not None and self.panels:
                self._panel_takes_box_call(self.panels[0])
            else:  # no network: someone picks up, talks, and hangs up at the box's own simulator
                threading.Timer(2.0, box.modem.remote_answer).start()
                threading.Timer(2.0 + self.talk_s * 2, box.modem.remote_hangup).start()
        return reply

    def _panel_takes_box_call(self, panel: SimUnit) -> None:
        """The box dialled 112 over the simulated network: the panel rings, the
        operator answers with the Answer button, talks, and hangs up."""
        deadline = time.monotonic() + 8
        while panel.modem.call_state != "ringing":
            if time.monotonic() > deadline or self._stop.wait(0.1):
                return  # busy (the panel is on another call) or stopping
        if self._stop.wait(self.rng.uniform(0.5, 2.0)):
            return
        panel.send("press answer")
        if self._stop.wait(self.talk_s):
            return
        panel.send("press hangup")
        self.box_calls += 1
        log.info("Operator menjawab panggilan kotak / operator took the box's call on %s", panel.device_id)

    def placed(self, number: str | None) -> bool:
        """Whether the scenario rang the panel from this number (a visitor's own call on
        the demo control page is not the simulated operator's)."""
        with self._said_lock:
            return (number or "") in self._rang_from

    def said(self, number: str | None) -> str | None:
        """What the caller of an information or test call said it was (once per call)."""
        with self._said_lock:
            q = self._said.get(number or "")
            return q.popleft() if q else None

    def call(self, panel: SimUnit, planned: PlannedCall | None = None) -> None:
        p = planned or plan_call(self.rng)
        with self._said_lock:
            self._rang_from.add(p.number)
        panel.modem.incoming_call(p.number)
        log.info("Panggilan 112 masuk / incoming 112 call from %s on %s", p.number, panel.device_id)
        ring = self.rng.uniform(1.0, 6.0)  # the answer time the KPIs measure
        if self._stop.wait(ring if p.key else self.rng.uniform(0.5, 2.0)):
            return
        self.calls += 1
        self.by_kind[p.kind] = self.by_kind.get(p.kind, 0) + 1
        if p.key is None:  # rang off before anyone answered: the panel records a misdial
            panel.modem.remote_hangup()
            log.info("Penelepon menutup sebelum dijawab / the caller rang off (%s)", p.number)
            return
        panel.send("press answer")
        if self._stop.wait(self.talk_s):
            return
        panel.modem.remote_hangup()
        time.sleep(0.5)
        if p.kind in ("information", "test"):
            with self._said_lock:
                self._said.setdefault(p.number, deque()).append(p.kind)
        reply = panel.send(f"press {p.key}")
        log.info("Operator mengklasifikasi / operator classified the call (%s) as %s -> %s", p.kind, p.key,
                 reply)

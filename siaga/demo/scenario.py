"""What happens in the demo city: citizens press field-box buttons, and
112 calls ring the call-centre panel, where an operator answers, talks,
and classifies the call with a category button."""

from __future__ import annotations

import logging
import random
import threading
import time

from siaga.demo.units import SimUnit

log = logging.getLogger("siaga.demo.scenario")

FIELD_BUTTONS = ["medical", "fire", "security"]
PANEL_CATEGORIES = ["cat_medical", "cat_fire", "cat_accident", "cat_disaster", "cat_security",
                    "cat_other", "cat_prank"]
CALLERS = ["+6281234500001", "+6285712300002", "+6281398700003", "+6287865400004"]


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

    def call(self, panel: SimUnit) -> None:
        number = self.rng.choice(CALLERS)
        panel.modem.incoming_call(number)
        log.info("Panggilan 112 masuk / incoming 112 call from %s on %s", number, panel.device_id)
        if self._stop.wait(self.rng.uniform(1.0, 6.0)):  # ring: the answer time the KPIs measure
            return
        panel.send("press answer")
        if self._stop.wait(self.talk_s):
            return
        panel.modem.remote_hangup()
        time.sleep(0.5)
        category = self.rng.choice(PANEL_CATEGORIES)
        reply = panel.send(f"press {category}")
        self.calls += 1
        log.info("Operator mengklasifikasi / operator classified the call as %s -> %s", category, reply)

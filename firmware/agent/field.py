"""Field profile: a citizen presses a button on a street call box.

A press files one incident with the box's location (committed durably
*before* the "recorded" LED lights), then the box dials the centre so the
citizen can talk. Presses while an incident is still open (within
``timings.same_incident_s`` of it) join it instead of filing another: a
frightened citizen pressing five times is one emergency. The "delivered"
LED lights when the gateway's ack for that incident arrives.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from firmware.agent.calls import CallTracker
from firmware.agent.hardware import REFUSED_SHOW_S
from firmware.agent.store import StorageFull
from protocol.ids import new_id
from protocol.reports import Incident, Source
from protocol.topics import DeviceTopic

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.agent import Agent

log = logging.getLogger(__name__)


class FieldProfile:
    def __init__(self, agent: Agent) -> None:
        self.a = agent
        self.calls = CallTracker(agent.clock)
        self.open_id: str | None = None
        self.open_at = -1e18
        self.latest_id: str | None = None  # the incident the LEDs speak about
        self.delivered_off_at: float | None = None

    def start(self) -> None:
        """After a restart, an undelivered incident keeps the recorded LED lit."""
        row = self.a.store.one(
            "SELECT id FROM incidents WHERE state = 'recorded' ORDER BY seq DESC LIMIT 1")
        if row:
            self.latest_id = row[0]
            self.a.hw.led("recorded", True)

    def on_press(self, name: str) -> tuple[str, str | None]:
        a = self.a
        if name not in a.category_map():
            a.event("press_unknown", {"button": name}, level="WARNING")
            return ("ignored", None)
        now = time.monotonic()
        window = a.cfg.timings.same_incident_s
        in_call = self.calls.current is not None and window > 0
        if self.open_id is not None and (now - self.open_at < window or in_call):
            a.event("press_joined", {"button": name, "incident": self.open_id})
            a.hw.beep(1)
            return ("joined", self.open_id)
        category = a.category_map()[name]
        number = a.settings.centre_number
        dial = bool(number and a.modem.present and self.calls.current is None)
        call_id = new_id() if dial else None  # the dial-out's record will carry this id

        def build(seq: int) -> Incident:
            return Incident(device=a.cfg.device_id, seq=seq, **a.clock.stamp(), category=category,
                            source=Source.FIELD_BUTTON, location=a.cfg.location, button=name,
                            call_id=call_id)

        try:
            inc = a.store.record("incident", a.topic(DeviceTopic.INCIDENT), build)
        except (StorageFull, sqlite3.Error) as exc:
            log.error("Insiden tidak tersimpan / incident not stored: %s", exc)
            a.refused_until = time.monotonic() + REFUSED_SHOW_S
            a.event("incident_refused", str(exc), level="ERROR")
            return ("refused", None)
        # durable now: only from here may a person be told "recorded"
        a.hw.led("delivered", False)
        a.hw.led("recorded", True)
        a.hw.beep(1)
        self.open_id, self.open_at, self.latest_id = inc.id, now, inc.id
        self.delivered_off_at = None
        a.event("incident_recorded", {"id": inc.id, "seq": inc.seq, "button": name})
        if dial:
            # dial on the next loop turn: the incident goes on the wire first,
            # since ATD can hold the loop while the network sets the call up
            self.calls.next_outgoing_id = call_id
            a.q.put(("dial", number))
        return ("recorded", inc.id)

    def on_delivered(self, kind: str, msg_id: str) -> None:
        if kind == "incident" and msg_id == self.latest_id:
            self.a.hw.led("recorded", False)
            self.a.hw.led("delivered", True)
            self.a.hw.beep(2)
            self.delivered_off_at = time.monotonic() + self.a.cfg.timings.feedback_s

    def on_modem(self, e: Any) -> None:
        what, call, end = self.calls.on_event(e, time.monotonic())
        if what == "ended" and call is not None:
            self.a.record_call(self.calls, call, end)

    def tick(self, now: float) -> None:
        if self.delivered_off_at is not None and now >= self.delivered_off_at:
            self.a.hw.led("delivered", False)
            self.delivered_off_at = None
        if self.open_id is not None and now - self.open_at >= self.a.cfg.timings.same_incident_s \
                and self.calls.current is None:
            self.open_id = None

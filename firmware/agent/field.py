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
from typing import Any

from firmware.agent.calls import CallTracker
from firmware.agent.events import Dial
from firmware.agent.ports import Ports, ProfileBase
from firmware.agent.store import StorageFull
from protocol.ids import new_id
from protocol.reports import Incident, Source
from protocol.topics import DeviceTopic

log = logging.getLogger(__name__)


class FieldProfile(ProfileBase):
    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        self.calls = CallTracker(ports.clock)
        self.open_id: str | None = None
        self.open_at = -1e18
        self.latest_id: str | None = None  # the incident the LEDs speak about
        self.delivered_off_at: float | None = None

    def start(self) -> None:
        """After a restart, an undelivered incident keeps the recorded LED lit."""
        row = self.p.store.one(
            "SELECT id FROM incidents WHERE state = 'recorded' ORDER BY seq DESC LIMIT 1")
        if row:
            self.latest_id = row[0]
            self.p.hw.led("recorded", True)

    def on_press(self, name: str) -> tuple[str, str | None]:
        a = self.p
        categories = a.live.category_map()
        if name not in categories:
            a.event("press_unknown", {"button": name}, level="WARNING")
            return ("ignored", None)
        now = time.monotonic()
        window = a.timings.same_incident_s
        in_call = self.calls.current is not None and window > 0
        if self.open_id is not None and (now - self.open_at < window or in_call):
            a.event("press_joined", {"button": name, "incident": self.open_id})
            a.hw.beep(1)
            return ("joined", self.open_id)
        category = categories[name]
        number = a.live.centre_number
        dial = bool(number and a.modem.present and self.calls.current is None)
        call_id = new_id() if dial else None  # the dial-out's record will carry this id

        def build(seq: int) -> Incident:
            return Incident(device=a.device_id, seq=seq, **a.clock.stamp(), category=category,
                            source=Source.FIELD_BUTTON, location=a.location, button=name,
                            call_id=call_id)

        try:
            inc = a.store.record("incident", a.topic(DeviceTopic.INCIDENT), build)
        except (StorageFull, sqlite3.Error) as exc:
            log.error("Insiden tidak tersimpan / incident not stored: %s", exc)
            a.refused()
            a.event("incident_refused", str(exc), level="ERROR")
            return ("refused", None)
        # durable now: only from here may a person be told "recorded"
        a.hw.led("delivered", False)
        a.hw.led("recorded", True)
        a.hw.beep(1)
        self.open_id, self.open_at, self.latest_id = inc.id, now, inc.id
        self.delivered_off_at = None
        a.event("incident_recorded", {"id": inc.id, "seq": inc.seq, "button": name})
        if dial and number:
            # dial on the next loop turn: the incident goes on the wire first,
            # since ATD can hold the loop while the network sets the call up
            self.calls.next_outgoing_id = call_id
            a.enqueue(Dial(number))
        return ("recorded", inc.id)

    def on_delivered(self, kind: str, msg_id: str) -> None:
        if kind == "incident" and msg_id == self.latest_id:
            self.p.hw.led("recorded", False)
            self.p.hw.led("delivered", True)
            self.p.hw.beep(2)
            self.delivered_off_at = time.monotonic() + self.p.timings.feedback_s

    def on_modem(self, e: Any) -> None:
        what, call, end = self.calls.on_event(e, time.monotonic())
        if what == "ended" and call is not None:
            self.record_call(self.calls, call, end)

    def tick(self, now: float) -> None:
        if self.delivered_off_at is not None and now >= self.delivered_off_at:
            self.p.hw.led("delivered", False)
            self.delivered_off_at = None
        if self.open_id is not None and now - self.open_at >= self.p.timings.same_incident_s \
                and self.calls.current is None:
            self.open_id = None

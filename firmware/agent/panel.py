"""Panel profile: the call-centre desk answering 112 calls on its modem.

Incoming call -> ring LED and buzzer; Answer -> answer; Hang-up -> hang up.
A category button classifies the current call, or the last one within
``timings.classify_window_s``, and files one incident tied to the call
record (``call_id``). Every call, missed and abandoned ones included, is
committed as a call record when it ends.

Each key also types the call (``CallType``): a ``type_<calltype>`` key
(``button_type_ghost``) types it only, filing a case of category ``other``
that the gateway never routes; the prank and test category keys type it
prank/test; every other category key types it an emergency. A key pressed
during the call puts the type on the call record too; an abandoned call
nobody typed is recorded as ``misdial``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from firmware.agent.calls import Call, CallTracker, clean_number
from firmware.agent.flaglist import Flags
from firmware.agent.ports import Ports, ProfileBase
from firmware.agent.store import StorageFull
from protocol.categories import Category
from protocol.codec import encode
from protocol.reports import CallType, DeskPhase, DeskState, Incident, Source
from protocol.topics import DeviceTopic

log = logging.getLogger(__name__)


_TYPE_OF_CATEGORY = {Category.PRANK: CallType.PRANK, Category.TEST: CallType.TEST}


def call_type_for(button: str, category: Category) -> CallType:
    """``type_ghost`` -> ghost; the prank/test keys -> prank/test; else emergency."""
    if button.startswith("type_"):
        try:
            return CallType(button.removeprefix("type_"))
        except ValueError:
            pass
    return _TYPE_OF_CATEGORY.get(category, CallType.EMERGENCY)


class PanelProfile(ProfileBase):
    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        self.calls = CallTracker(ports.clock)
        self.delivered_off_at: float | None = None
        self.flags = Flags(ports.store, ports.clock)

    def start(self) -> None:
        if not self.p.modem.present:
            log.error("Panel tanpa modem / panel without a modem: it cannot take calls")

    def on_press(self, name: str) -> tuple[str, str | None]:
        a = self.p
        call = self.calls.current
        if name == "answer":
            if call is None or not call.ringing:
                a.event("answer_ignored", "no ringing call")
                return ("ignored", None)
            ok = a.modem.answer()
            a.event("answer", {"call": call.id, "ok": ok})
            return ("answered" if ok else "failed", call.id)
        if name == "hangup":
            if call is None:
                a.event("hangup_ignored", "no call")
                return ("ignored", None)
            ok = a.modem.hang_up()
            a.event("hangup", {"call": call.id, "ok": ok})
            return ("hung_up" if ok else "failed", call.id)
        return self._classify(name)

    def _target(self) -> Call | None:
        if self.calls.current is not None:
            return self.calls.current
        last = self.calls.last
        if last is not None and last.ended_mono is not None and \
                time.monotonic() - last.ended_mono <= self.p.timings.classify_window_s:
            return last
        return None

    def _classify(self, name: str) -> tuple[str, str | None]:
        a = self.p
        category = a.live.category_map().get(name)
        if category is None:
            a.event("press_unknown", {"button": name}, level="WARNING")
            return ("ignored", None)
        call = self._target()
        if call is None:
            a.event("classify_ignored", {"button": name, "why": "no recent call"})
            a.hw.beep(3, on_s=0.05, off_s=0.05)
            return ("ignored", None)
        if call.classified:
            a.event("classify_ignored", {"button": name, "why": "already classified", "call": call.id})
            return ("ignored", None)

        ctype = call_type_for(name, category)

        def build(seq: int) -> Incident:
            return Incident(device=a.device_id, seq=seq, **a.clock.stamp(), category=category,
                            source=Source.PANEL_CALL, caller=clean_number(call.number), call_id=call.id,
                            call_type=ctype)

        try:
            inc = a.store.record("incident", a.topic(DeviceTopic.INCIDENT), build)
        except (StorageFull, sqlite3.Error) as exc:
            log.error("Insiden tidak tersimpan / incident not stored: %s", exc)
            a.refused()
            return ("refused", None)
        call.classified = True
        call.call_type = ctype  # on the call record too when the call is still on
        a.hw.beep(1)
        a.event("incident_recorded", {"id": inc.id, "seq": inc.seq, "call": call.id,
                                      "call_type": ctype.value})
        return ("recorded", inc.id)

    def on_delivered(self, kind: str, _msg_id: str) -> None:
        if kind == "incident":
            self.p.hw.led("delivered", True)
            self.delivered_off_at = time.monotonic() + self.p.timings.feedback_s

    def on_modem(self, e: Any) -> None:
        a = self.p
        what, call, end = self.calls.on_event(e, time.monotonic())
        if what == "ringing" and call is not None:
            a.hw.ring(True)
            flagged = self.flags.is_flagged(clean_number(call.number))
            a.hw.led("flagged", flagged)  # lit from ring to hang-up; never blocks the call
            a.event("ringing", {"call": call.id, "number": call.number, "flagged": flagged})
            self._desk(DeskPhase.RINGING, call, flagged)
        elif what == "active":
            a.hw.ring(False)
            a.hw.led("active", True)
            if call is not None:
                self._desk(DeskPhase.ACTIVE, call, self.flags.is_flagged(clean_number(call.number)))
        elif what == "ended" and call is not None:
            a.hw.ring(False)
            a.hw.led("active", False)
            a.hw.led("flagged", False)
            self._desk(DeskPhase.IDLE, None, False)
            self.record_call(self.calls, call, end)

    def _desk(self, phase: DeskPhase, call: Call | None, flagged: bool) -> None:
        """Best effort, retained: the console shows the ringing caller's
        history from it; lost while offline (the call record is what counts)."""
        a = self.p
        st = DeskState(device=a.device_id, phase=phase, call_id=call.id if call else None,
                       number=clean_number(call.number) if call else None, flagged=flagged,
                       operator=a.live.operator(), at=a.clock.now() if a.clock.synced else None)
        a.publish(a.topic(DeviceTopic.DESK), encode(st), qos=1, retain=True)

    def tick(self, now: float) -> None:
        if self.delivered_off_at is not None and now >= self.delivered_off_at:
            self.p.hw.led("delivered", False)
            self.delivered_off_at = None

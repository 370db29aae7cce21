"""Turn the modem's call events into call records (both profiles).

Why here and not in the driver: the call record is ours (answer time is a
KPI of the centre), and its timings come from the driver's monotonic event
stamps, so a wall clock that jumps (NTP arriving mid-call) cannot bend them.
The record id is chosen when the phone starts ringing, so a category pressed
during the call can already name the call it belongs to.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from protocol.ids import new_id
from protocol.reports import CallDirection, CallEnd, CallRecord, CallType

if TYPE_CHECKING:
    # imported where a modem event is handled: a box without a modem never loads them
    from firmware.modem import events as ev

_NUMBER = re.compile(r"^\+?[0-9*#]{1,20}$")


def clean_number(number: str | None) -> str | None:
    """A caller id the wire accepts, or None (withheld, 'Unknown', garbage)."""
    if not number:
        return None
    number = number.strip().replace(" ", "").replace("-", "")
    return number if _NUMBER.match(number) else None


@functools.cache
def _end_map() -> dict[ev.EndReason, CallEnd]:
    from firmware.modem.events import EndReason as R

    return {
        R.REMOTE_HANGUP: CallEnd.REMOTE_HANGUP,
        R.LOCAL_HANGUP: CallEnd.LOCAL_HANGUP,
        R.ABANDONED: CallEnd.ABANDONED,
        R.BUSY: CallEnd.BUSY,
        R.NO_ANSWER: CallEnd.NO_ANSWER,
        R.NO_CARRIER: CallEnd.NO_CARRIER,
        R.NO_DIALTONE: CallEnd.NO_CARRIER,
        R.MODEM_RESET: CallEnd.MODEM_RESET,
        R.ERROR: CallEnd.ERROR,
    }


@dataclass
class Call:
    """A call in progress (or just ended)."""

    id: str
    direction: CallDirection
    number: str | None
    start_mono: float  # ring (incoming) or dial (outgoing)
    start_at: datetime
    answered_mono: float | None = None
    ended_mono: float | None = None
    classified: bool = False
    call_type: CallType | None = None  # set by a panel key during the call

    @property
    def ringing(self) -> bool:
        return self.answered_mono is None and self.ended_mono is None


def end_reason(call: Call, reason: ev.EndReason) -> CallEnd:
    """Missed/abandoned for unanswered incoming calls, the driver's reason otherwise."""
    from firmware.modem import events as ev

    if call.direction is CallDirection.INCOMING and call.answered_mono is None:
        if reason in (ev.EndReason.ABANDONED, ev.EndReason.REMOTE_HANGUP):
            return CallEnd.ABANDONED
        if reason in (ev.EndReason.NO_ANSWER, ev.EndReason.NO_CARRIER):
            return CallEnd.MISSED
    return _end_map().get(reason, CallEnd.ERROR)


class CallTracker:
    """Feeds on modem events; returns a finished :class:`Call` record builder."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.current: Call | None = None
        self.last: Call | None = None
        #: id for the next outgoing call, made before it exists: a field box's
        #: incident carries it as ``call_id``, so the call record links to the case
        self.next_outgoing_id: str | None = None

    def _wall(self, mono_at: float, now_mono: float) -> datetime:
        return self.clock.now() - timedelta(seconds=max(0.0, now_mono - mono_at))

    def on_event(self, e: ev.ModemEvent, now_mono: float) -> tuple[str, Call | None, Any]:
        """Returns (what happened, call, end event or None)."""
        from firmware.modem import events as ev

        if isinstance(e, ev.Ringing):
            if self.current is None or self.current.ended_mono is not None:
                self.current = Call(new_id(), CallDirection.INCOMING, e.number, e.at,
                                    self._wall(e.at, now_mono))
                return "ringing", self.current, None
            if e.number and not self.current.number:
                self.current.number = e.number
            return "ring_again", self.current, None
        if isinstance(e, ev.Dialling):
            call_id, self.next_outgoing_id = self.next_outgoing_id or new_id(), None
            self.current = Call(call_id, CallDirection.OUTGOING, e.number or None, e.at,
                                self._wall(e.at, now_mono))
            return "dialling", self.current, None
        if isinstance(e, ev.CallActive):
            if self.current is None:  # answered elsewhere / we missed the ring
                direction = CallDirection(e.direction) if e.direction in ("incoming", "outgoing") \
                    else CallDirection.INCOMING
                self.current = Call(new_id(), direction, e.number, e.at, self._wall(e.at, now_mono))
            if self.current.answered_mono is None:
                self.current.answered_mono = e.at
            if e.number and not self.current.number:
                self.current.number = e.number
            return "active", self.current, None
        if isinstance(e, ev.CallEnded):
            call = self.current
            if call is None:
                direction = CallDirection(e.direction) if e.direction in ("incoming", "outgoing") \
                    else CallDirection.INCOMING
                call = Call(new_id(), direction, e.number, e.at, self._wall(e.at, now_mono))
            call.ended_mono = e.at
            self.current = None
            self.last = call
            return "ended", call, e
        return "other", None, None

    def record(self, call: Call, end: ev.CallEnded, *, device: str, seq: int, stamp: dict[str, Any],
               operator: str | None = None) -> CallRecord:
        """The CallRecord of a finished call."""
        answered_mono = call.answered_mono
        reason = end_reason(call, end.reason)
        unanswered = reason in (CallEnd.MISSED, CallEnd.ABANDONED)
        ended_mono = call.ended_mono if call.ended_mono is not None else end.at
        answer_s = None
        duration = 0.0
        if answered_mono is not None:
            duration = max(0.0, ended_mono - answered_mono)
            if not unanswered:
                answer_s = round(answered_mono - call.start_mono, 3)
        start_at = call.start_at
        ctype = call.call_type
        if ctype is None and reason is CallEnd.ABANDONED:
            ctype = CallType.MISDIAL  # hung up before anyone answered

        answered_at = (start_at + timedelta(seconds=answer_s)) if answer_s is not None else None
        return CallRecord(
            id=call.id, device=device, seq=seq, **stamp,
            direction=call.direction, number=clean_number(call.number),
            ring_at=start_at if call.direction is CallDirection.INCOMING else None,
            answered_at=answered_at,
            ended_at=start_at + timedelta(seconds=max(0.0, ended_mono - call.start_mono)),
            answer_s=max(0.0, answer_s) if answer_s is not None else None,
            duration_s=round(duration, 3), end_reason=reason,
            operator=operator if answered_mono is not None else None, call_type=ctype,
        )

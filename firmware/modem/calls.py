"""The voice call state machine, fed by URCs and by local actions.

Modems report one call event several ways (``+CLCC``, ``RING``/``+CLIP``,
``NO CARRIER``, SIM7600's ``VOICE CALL: ...``), in an order that differs
by firmware. The tracker takes them all, moves only forward, and emits each
event once: a second report of the same change is a no-op.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from firmware.modem.events import (
    Alerting,
    CallActive,
    CallEnded,
    CallState,
    Dialling,
    EndReason,
    ModemEvent,
    Ringing,
)
from firmware.modem.parser import Final

#: seconds to wait after an outgoing call's ``+CLCC ... 6`` for the final code
#: (BUSY / NO ANSWER) that names the reason, before ending it as NO CARRIER
DISCONNECT_GRACE = 1.5


class CallTracker:
    def __init__(
        self,
        emit: Callable[[ModemEvent], None],
        *,
        clip_wait: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self._clip_wait = clip_wait
        self._lock = threading.RLock()
        self.state = CallState.IDLE
        self.number: str | None = None
        self.direction = "incoming"
        self.answered_at: float | None = None
        self.modem_duration: float | None = None
        self.last_ended: CallEnded | None = None
        self._announced = False
        self._ring_seen_at: float | None = None
        self._disconnect_at: float | None = None
        self._local_hangup = False
        self._hangup_reason = EndReason.LOCAL_HANGUP
        self.started_at: float | None = None  # when the current call began (for the length limit)
        self.generation = 0  # +1 per call: a CLCC answer about an older call is ignored
        self.ended_by_poll = 0

    # ---- incoming ---------------------------------------------------------
    def on_ring(self) -> None:
        with self._lock:
            if self.state is CallState.IDLE:
                self._start("incoming", None, CallState.RINGING)
                self._ring_seen_at = self._clock()
            elif self.state is CallState.RINGING and not self._announced:
                self._announce()

    def on_clip(self, number: str | None) -> None:
        with self._lock:
            if self.state is CallState.IDLE:
                self._start("incoming", number, CallState.RINGING)
                self._announce()
            elif self.state is CallState.RINGING:
                if number and not self.number:
                    self.number = number
                if not self._announced:
                    self._announce()

    # ---- +CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>] ----------
    def on_clcc(self, fields: list[str]) -> None:
        try:
            stat = int(fields[2])
            mode = int(fields[3])
        except (ValueError, IndexError):
            return
        if mode != 0:  # data or fax call: not ours
            return
        number = fields[5] if len(fields) > 5 and fields[5] else None
        with self._lock:
            if stat in (4, 5):  # incoming / waiting
                self.on_clip(number)
            elif stat == 2:  # dialling
                if self.state is CallState.IDLE:
                    self.dialling(number or "")
            elif stat == 3:  # alerting
                self.on_alerting()
            elif stat == 0:  # active
                if self.state in (CallState.RINGING, CallState.DIALLING, CallState.ALERTING):
                    self.activate()
            elif stat == 6:  # disconnected
                if self.state in (CallState.DIALLING, CallState.ALERTING) and not self._local_hangup:
                    self._disconnect_at = self._clock()
                else:
                    self.remote_end()

    def on_alerting(self) -> None:
        with self._lock:
            if self.state is CallState.DIALLING:
                self.state = CallState.ALERTING
                self._emit(Alerting(at=self._clock()))

    def on_clcc_list(self, voice: list[list[str]], generation: int) -> None:
        """The answer to a polled ``AT+CLCC`` (voice calls only): the ground truth.

        No call listed (or only a disconnected one) ends ours; an active one
        activates it. An answer about an earlier call, or during our own
        hang-up, changes nothing.
        """
        with self._lock:
            if generation != self.generation or self.state is CallState.IDLE or self._local_hangup:
                return
            stats = []
            for f in voice:
                try:
                    stats.append(int(f[2]))
                except (ValueError, IndexError):
                    continue
            if not stats or all(st == 6 for st in stats):
                self.ended_by_poll += 1
                self.remote_end()
            elif 0 in stats and self.state is not CallState.ACTIVE:
                self.activate()
            elif 3 in stats:
                self.on_alerting()

    # ---- finals that arrive as URCs (ATD returns OK at once) ---------------
    def on_final(self, final: Final) -> None:
        with self._lock:
            if self.state is CallState.IDLE:
                return
            if final is Final.BUSY:
                self._end(EndReason.BUSY)
            elif final is Final.NO_ANSWER:
                self._end(EndReason.NO_ANSWER)
            elif final is Final.NO_DIALTONE:
                self._end(EndReason.NO_DIALTONE)
            else:
                self.remote_end()

    def on_voice_begin(self) -> None:
        with self._lock:
            if self.state in (CallState.RINGING, CallState.DIALLING, CallState.ALERTING):
                self.activate()

    def on_voice_end(self, modem_duration: float | None) -> None:
        with self._lock:
            self.modem_duration = modem_duration
            self.remote_end()

    # ---- local actions and their outcomes ---------------------------------
    def dialling(self, number: str) -> None:
        with self._lock:
            self._start("outgoing", number, CallState.DIALLING)
            self._announced = True
            self._emit(Dialling(at=self._clock(), number=number))

    def activate(self) -> None:
        with self._lock:
            if self.state is CallState.ACTIVE or self.state is CallState.IDLE:
                return
            if self.state is CallState.RINGING and not self._announced:
                self._announce()  # answered within clip_wait: Ringing still comes first
            self.state = CallState.ACTIVE
            self.answered_at = self._clock()
            self._disconnect_at = None
            self._emit(CallActive(at=self.answered_at, number=self.number, direction=self.direction))

    def begin_local_hangup(self, reason: EndReason = EndReason.LOCAL_HANGUP) -> None:
        """We are hanging up (``reason``: ours, or the length limit): an end
        report that comes meanwhile is ours, not the far end's."""
        with self._lock:
            self._local_hangup = True
            self._hangup_reason = reason

    def local_hangup(self) -> None:
        with self._lock:
            if self.state is not CallState.IDLE:
                self._end(self._hangup_reason)
            self._local_hangup = False

    def remote_end(self) -> None:
        """The call went away; the reason follows from how far it got."""
        with self._lock:
            if self.state is CallState.IDLE:
                return
            if self._local_hangup:
                reason = self._hangup_reason
            elif self.state is CallState.RINGING:
                reason = EndReason.ABANDONED
            elif self.state is CallState.ACTIVE:
                reason = EndReason.REMOTE_HANGUP
            else:
                reason = EndReason.NO_CARRIER
            self._end(reason)

    def fail(self, reason: EndReason) -> None:
        with self._lock:
            if self.state is not CallState.IDLE:
                self._end(reason)

    def tick(self) -> None:
        """Deadlines: announce a RING that never got caller id; end an
        outgoing call whose disconnect never got a reason."""
        now = self._clock()
        with self._lock:
            if (
                self.state is CallState.RINGING
                and not self._announced
                and self._ring_seen_at is not None
                and now - self._ring_seen_at >= self._clip_wait
            ):
                self._announce()
            if self._disconnect_at is not None and now - self._disconnect_at >= DISCONNECT_GRACE:
                self._disconnect_at = None
                self.fail(EndReason.NO_CARRIER)

    # ---- internals --------------------------------------------------------
    def _start(self, direction: str, number: str | None, state: CallState) -> None:
        self.state = state
        self.direction = direction
        self.number = number
        self.answered_at = None
        self.modem_duration = None
        self._announced = False
        self._ring_seen_at = None
        self._disconnect_at = None
        self._local_hangup = False
        self._hangup_reason = EndReason.LOCAL_HANGUP
        self.started_at = self._clock()
        self.generation += 1

    def _announce(self) -> None:
        self._announced = True
        self._emit(Ringing(at=self._clock(), number=self.number))

    def _end(self, reason: EndReason) -> None:
        now = self._clock()
        answered = self.answered_at is not None
        duration = (now - self.answered_at) if self.answered_at is not None else 0.0
        if self.state is CallState.RINGING and not self._announced:
            self._announce()
        ev = CallEnded(
            at=now,
            reason=reason,
            duration_s=round(duration, 3),
            number=self.number,
            direction=self.direction,
            answered=answered,
        )
        self.state = CallState.IDLE
        self.answered_at = None
        self._disconnect_at = None
        self._local_hangup = False
        self._hangup_reason = EndReason.LOCAL_HANGUP
        self.started_at = None
        self.last_ended = ev
        self._emit(ev)

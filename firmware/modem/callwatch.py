"""``AT+CLCC`` polling while a call is up, and the call length limit.

Why poll: makers report a remote hang-up differently (SIMCom ``NO CARRIER``,
Huawei ``^CEND``, ZTE/Qualcomm ``HANGUP:``) and some phones report nothing;
a missed end would leave the box "in a call" forever. The modem's own call
list is the ground truth: a call it no longer lists has ended, one it lists
as active has been answered. Runs on the supervisor thread (it may send).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from firmware.modem.errors import ModemCommandError, ModemError
from firmware.modem.events import CallState, EndReason
from firmware.modem.parser import split_fields

if TYPE_CHECKING:
    from firmware.modem.driver import Modem

log = logging.getLogger(__name__)

#: consecutive refused polls after which polling is switched off for good
REFUSALS_TO_STOP = 3


class CallWatch:
    def __init__(self, modem: Modem, *, poll_interval: float, max_call: float) -> None:
        self._m = modem
        self.poll_interval = poll_interval  # 0: never poll
        self.max_call = max_call  # seconds from the start of a call; 0: no limit
        self._next_poll = 0.0
        self.polls = 0
        self.refused = 0
        self.poll_time = 0.0  # seconds spent in AT+CLCC round trips (for the overhead figure)

    def tick(self) -> None:
        calls = self._m._calls
        if calls.state is CallState.IDLE:
            self._next_poll = 0.0
            return
        now = calls._clock()
        if self.max_call and calls.started_at is not None and now - calls.started_at >= self.max_call:
            self._end_over_limit()
            return
        if not self.poll_interval:
            return
        if self._next_poll == 0.0:  # the first poll one interval after the call began
            self._next_poll = now + self.poll_interval
        if now >= self._next_poll:
            self._next_poll = now + self.poll_interval
            self.poll()

    def poll(self) -> None:
        calls = self._m._calls
        generation = calls.generation
        started = time.monotonic()
        try:
            resp = self._m.at("AT+CLCC", expect="+CLCC:")
        except ModemCommandError as exc:
            self.refused += 1
            if self.refused >= REFUSALS_TO_STOP:  # a modem without AT+CLCC: stop asking
                self.poll_interval = 0
                log.warning("AT+CLCC ditolak / refused (%s): polling off", exc.result)
            return
        except ModemError as exc:  # the watchdog looks after a silent modem
            log.info("AT+CLCC poll failed: %s", exc)
            return
        finally:
            self.polls += 1
            self.poll_time += time.monotonic() - started
        self.refused = 0
        voice = []
        for item in resp.info("+CLCC:"):
            f = split_fields(item)
            if len(f) > 3 and f[3] == "0":  # mode 0: voice
                voice.append(f)
        calls.on_clcc_list(voice, generation)

    def _end_over_limit(self) -> None:
        m = self._m
        log.warning("Panggilan melewati batas / call over the %.0f s limit: hanging up", self.max_call)
        m.counters["calls_over_limit"] += 1
        m._calls.begin_local_hangup(EndReason.MAX_DURATION)
        try:
            m._hang_up_command()
        except ModemError as exc:
            log.warning("hang-up at the call limit failed: %s", exc)
        finally:
            m._calls.local_hangup()

"""What the simulator's mixins (voice, SMS) may use of :class:`ModemSimulator`.

Annotations only: the attributes are set by ``ModemSimulator.__init__``; this
class lets each mixin be type-checked on its own file.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from firmware.sim.profiles import Profile


class SimState:
    profile: Profile
    s: dict[str, Any]
    network: Any
    number: str | None
    ring_interval: float
    alert_delay: float
    atd_waits: bool
    clcc_before_final: bool
    dialled: list[str]
    sent_sms: list[tuple[str, str]]
    sent_parts: list[dict[str, Any]]
    storage: dict[int, dict[str, Any]]
    _lock: threading.RLock
    _sched: Any
    _rng: random.Random
    _at: Any
    _concat: dict[tuple[str, int], dict[str, Any]]
    _call: dict[str, Any] | None
    _ring_job: int | None
    _mr: int
    urc: Callable[[str], None]
    enc: Callable[[str], str]
    reply: Callable[[list[str], str | None], None]
    now_local: Callable[[], datetime | None]

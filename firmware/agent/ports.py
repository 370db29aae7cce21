"""What a profile (field box, call-centre panel) may use of its unit.

Why not the whole :class:`~firmware.agent.agent.Agent`: a profile that can
reach everything ends up touching everything (the link's internals, the
updater, the loop's timers), and a reader cannot tell what a press may
change. A profile gets the store, the pins, the clock, the modem, the
settings in force and a handful of callables, and nothing else; tests can
build one from parts.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from protocol.categories import Category
from protocol.fleet import UnitSettings
from protocol.topics import DeviceTopic, device_topic

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.calls import Call, CallTracker
    from firmware.agent.clock import Clock
    from firmware.agent.config import Timings, UnitConfig
    from firmware.agent.events import AgentEvent
    from firmware.agent.hardware import Hardware
    from firmware.agent.modem import ModemPort
    from firmware.agent.store import Store
    from firmware.modem import events as mev
    from protocol.reports import Location

log = logging.getLogger("firmware.agent")


class LiveSettings:
    """The settings in force (the desired config over the file's) and their
    version; the fleet side replaces them, the profiles read them."""

    def __init__(self, cfg: UnitConfig, settings: UnitSettings, version: int) -> None:
        self._cfg = cfg
        self.settings = settings
        self.version = version

    def category_map(self) -> dict[str, Category]:
        return dict(self.settings.button_categories or self._cfg.category_map())

    def operator(self) -> str | None:
        """Who is signed in at this desk (desired config over the file); None if nobody."""
        return self.settings.operator or None

    @property
    def centre_number(self) -> str | None:
        return self.settings.centre_number


@dataclass(frozen=True)
class Ports:
    """Everything a profile uses."""

    device_id: str
    timings: Timings
    location: Location | None
    store: Store
    hw: Hardware
    clock: Clock
    modem: ModemPort
    live: LiveSettings
    #: write one line to the unit's event log (``kind``, ``detail``, ``level=``)
    event: Callable[..., None]
    #: hand a message to the MQTT link (topic, payload, qos=, retain=); None when down
    publish: Callable[..., Any]
    #: put an event on the main loop's queue (handled on a later turn)
    enqueue: Callable[[AgentEvent], None]
    #: a press could not be stored: the fault LED flashes for a while
    refused: Callable[[], None]

    def topic(self, kind: DeviceTopic) -> str:
        return device_topic(self.device_id, kind)


class ProfileBase:
    """What both profiles share: the ports and how a finished call is recorded."""

    def __init__(self, ports: Ports) -> None:
        self.p = ports

    def record_call(self, tracker: CallTracker, call: Call, end: mev.CallEnded) -> None:
        from firmware.agent.store import StorageFull

        p = self.p
        try:
            rec = p.store.record("call", p.topic(DeviceTopic.CALL),
                                 lambda seq: tracker.record(call, end, device=p.device_id, seq=seq,
                                                            stamp=p.clock.stamp(),
                                                            operator=p.live.operator()))
        except (StorageFull, sqlite3.Error) as exc:
            log.error("Catatan panggilan tidak tersimpan / call record not stored: %s", exc)
            return
        p.event("call_recorded", {"id": rec.id, "end": str(rec.end_reason), "answer_s": rec.answer_s,
                                  "duration_s": rec.duration_s})

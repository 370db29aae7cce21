"""What reaches the agent's main loop: one small dataclass per kind of event.

Why typed: paho, gpiozero, the modem reader, the SMS sender and the updater
run on their own threads and only put one of these on the agent's queue;
the loop matches on the class. A typo is then a type error, not a tuple
that silently matches no branch, and each event says what it carries
(as the modem driver's own events in ``firmware.modem.events`` do).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Press:
    """A button was pressed (or held, for a deliberate field button)."""

    button: str


@dataclass(frozen=True, slots=True)
class Message:
    """An MQTT message on one of the unit's own topics."""

    topic: str
    payload: bytes
    properties: Any = None
    retain: bool = False


@dataclass(frozen=True, slots=True)
class LinkUp:
    """CONNACK accepted."""

    session_present: bool


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The broker connection is gone (or found dead by the probe)."""

    reason: str


@dataclass(frozen=True, slots=True)
class LinkRefused:
    """The broker refused the connection (bad credentials, not authorised)."""

    reason: str


@dataclass(frozen=True, slots=True)
class SubscribeRefused:
    """The ACL or the broker refused some of the unit's subscriptions."""

    reasons: list[str]


@dataclass(frozen=True, slots=True)
class PublishRefused:
    """A PUBACK with a failure reason (the ACL refused a topic)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ModemEvent:
    """One of the modem driver's typed events (``firmware.modem.events``)."""

    event: Any


@dataclass(frozen=True, slots=True)
class Dial:
    """Field box: dial the centre (queued so the incident goes on the wire first)."""

    number: str


@dataclass(frozen=True, slots=True)
class SmsResult:
    """The SMS fallback's sender thread finished one incident."""

    msg_id: str
    ok: bool
    detail: str
    size: int


@dataclass(frozen=True, slots=True)
class UpdateReady:
    """The updater installed a verified release into the inactive slot."""

    targets: Any
    slot: Path


@dataclass(frozen=True, slots=True)
class UpdateRefused:
    """The updater's worker refused a release (recorded in the event log)."""

    version: str
    error: str


@dataclass(frozen=True, slots=True)
class OnLoop:
    """Run ``fn`` on the loop thread and put its result on ``reply``: how a
    helper outside the loop (the test-only control socket) reads the agent's
    state without racing it."""

    fn: Callable[[], Any]
    reply: queue.Queue[Any]


AgentEvent = (Press | Message | LinkUp | LinkDown | LinkRefused | SubscribeRefused | PublishRefused
              | ModemEvent | Dial | SmsResult | UpdateReady | UpdateRefused | OnLoop)

#: the queue every producer puts on and the main loop takes from
EventQueue = queue.Queue[AgentEvent]

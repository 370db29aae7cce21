"""Console events between gateway processes, over the site's broker.

Why: a console is pushed the changes of the process it is connected to
(``gateway.events.Broadcaster``). With several processes on one database
(failover instances, or a web process beside the intake process, ``siaga
gateway --web-only``) a case stored by one must reach the consoles of the
others at once, and must drop the others' shared case-list answers
(``gateway.list_cache``) and wake their dispatchers. Each process publishes
its events on ``siaga/v1/gateway/<client id>/events`` and takes everyone
else's from ``siaga/v1/gateway/+/events``.

The messages are hints (``{"kind": "case", "data": {"id": ...}}``), QoS 1 on
a clean session: a process that was away re-reads the list on reconnect
anyway. A malformed message is counted and dropped, never raised.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from gateway.failover import STATE_PREFIX, gateway_topic
from protocol.mqtt import BrokerSettings, make_client

log = logging.getLogger("gateway.event_feed")

EVENTS_FILTER = f"{STATE_PREFIX}/+/events"
#: the kinds a process acts on; anything else is counted as malformed
KINDS = ("case", "wake", "flags")
MAX_BYTES = 4096
QUEUE_MAX = 1000


def events_topic(client_id: str) -> str:
    return gateway_topic(client_id, "events")


def decode(payload: bytes) -> tuple[str, dict[str, Any]] | None:
    """``(kind, data)`` of a well-formed event message, else None."""
    if len(payload) > MAX_BYTES:
        return None
    try:
        msg = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(msg, dict) or msg.get("kind") not in KINDS or not isinstance(msg.get("data"), dict):
        return None
    data = {k: v for k, v in msg["data"].items() if isinstance(k, str)
            and (v is None or isinstance(v, str | int | bool))}
    return msg["kind"], data


class EventFeed:
    """This process's side of the feed: :meth:`send` after a local commit,
    ``on_event(kind, data)`` for every other process's event (called on
    paho's thread; it must not block)."""

    def __init__(self, broker: BrokerSettings, client_id: str,
                 on_event: Callable[[str, dict[str, Any]], None]) -> None:
        self.client_id = client_id + "-events"
        self.topic = events_topic(self.client_id)
        self.on_event = on_event
        self.sent = 0
        self.received = 0
        self.malformed = 0
        self.subscribed = threading.Event()
        self._broker = broker
        # hints, not records: while the broker is away at most QUEUE_MAX wait, the rest are
        # dropped (the consoles re-read the list when their stream comes back)
        self.client = make_client(self.client_id, broker, max_queued=QUEUE_MAX)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_disconnect = lambda *_a: self.subscribed.clear()

    def start(self) -> None:
        self.client.connect_async(host=self._broker.host, port=self._broker.port,
                                  keepalive=self._broker.keepalive_s, clean_start=True)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def send(self, kind: str, data: dict[str, Any]) -> None:
        """Tell the other processes (thread-safe; dropped while disconnected:
        their consoles re-read the list when the link returns)."""
        body = json.dumps({"kind": kind, "data": data}, default=str).encode()
        if self.client.publish(self.topic, body, qos=1).rc == 0:
            self.sent += 1

    def _on_connect(self, client: Any, _u: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if rc.is_failure:
            log.error("Broker menolak umpan peristiwa / broker refused the event feed: %s", rc)
            return
        client.subscribe(EVENTS_FILTER, qos=1)

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        if msg.topic == self.topic:  # our own, already delivered here
            return
        event = decode(msg.payload)
        if event is None:
            self.malformed += 1
            log.warning("Peristiwa rusak dibuang / malformed gateway event dropped from %s", msg.topic)
            return
        self.received += 1
        try:
            self.on_event(*event)
        except Exception:  # a bug in a handler must not stop paho's loop
            log.exception("gateway event handler failed")

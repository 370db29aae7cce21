"""Central's MQTT connection: one paho client, callbacks that only enqueue.

Used briefly by the CLI (publish desired config, send a command and wait)
and for the life of the fleet service. ``publish`` blocks the *caller* (never
a paho callback) until the broker's PUBACK and returns its reason code, so a
publish while disconnected is an error, not a silent no-op.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from gateway.fleet.errors import BrokerUnavailable
from protocol.ids import new_id
from protocol.mqtt import BrokerSettings, connect, make_client

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    retain: bool
    correlation: bytes | None


class Link:
    """A connected admin client with an inbound queue."""

    def __init__(self, settings: BrokerSettings, *, client_id: str | None = None,
                 persistent: bool = False) -> None:
        # a short-lived client must not leave a session (and a queue) on the broker
        self.settings = settings if persistent else settings.model_copy(update={"session_expiry_s": 0})
        self.client_id = client_id or f"central-{new_id().lower()}"
        self.persistent = persistent
        self.inbox: queue.Queue[Inbound] = queue.Queue()
        self.connected = threading.Event()
        self._connack: Any = None
        self._subs: dict[str, int] = {}
        self._sub_lock = threading.Lock()
        self._subacks: dict[int, threading.Event] = {}
        self._resubs: set[int] = set()
        self._puback: dict[int, Any] = {}
        self._puback_evt: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self.client = make_client(self.client_id, self.settings)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.reconnect_delay_set(0.2, 5)  # type: ignore[arg-type]  # paho takes float seconds

    # paho callbacks: never block, only record and hand over
    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connack = rc
        if rc.is_failure:
            log.warning("broker refused central client %s: %s", self.client_id, rc)
            return
        self.connected.set()
        with self._sub_lock:
            for topic, qos in self._subs.items():  # a fresh session needs them again
                _rc, mid = self.client.subscribe(topic, qos)
                if mid is not None:
                    with self._lock:
                        self._resubs.add(mid)

    def _on_disconnect(self, *_a: Any) -> None:
        self.connected.clear()

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        corr = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        self.inbox.put(Inbound(msg.topic, msg.payload, bool(msg.retain), corr))

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _p: Any) -> None:
        with self._lock:  # the SUBACK may beat subscribe() to registering its event
            if mid in self._resubs:
                self._resubs.discard(mid)
                return
            evt = self._subacks.setdefault(mid, threading.Event())
        evt.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self._lock:
            self._puback[mid] = rc
            evt = self._puback_evt.get(mid)
        if evt:
            evt.set()

    def start(self, timeout: float = 10.0) -> Link:
        connect(self.client, self.settings, clean_start=not self.persistent)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.client.loop_stop()
            why = self._connack if self._connack is not None else "no answer"
            raise BrokerUnavailable(
                f"broker {self.settings.host}:{self.settings.port} tidak tersambung / "
                f"not connected: {why}")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0) -> None:
        with self._sub_lock:
            self._subs[topic] = qos
            _rc, mid = self.client.subscribe(topic, qos)
        if mid is None:
            raise BrokerUnavailable(f"cannot subscribe to {topic}: not connected")
        with self._lock:
            evt = self._subacks.setdefault(mid, threading.Event())
        try:
            if not evt.wait(timeout):
                raise BrokerUnavailable(f"no SUBACK for {topic}")
        finally:
            with self._lock:
                self._subacks.pop(mid, None)

    def unsubscribe(self, topic: str) -> None:
        with self._sub_lock:
            self._subs.pop(topic, None)
        self.client.unsubscribe(topic)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                properties: Any = None, timeout: float = 10.0) -> Any:
        """Publish and wait for the PUBACK; returns its reason code (QoS 0:
        None). Raises BrokerUnavailable when the broker never acknowledged."""
        evt = threading.Event()
        with self._lock:
            info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
            if qos == 0:
                return None
            rc = self._puback.pop(info.mid, None)
            if rc is None:
                self._puback_evt[info.mid] = evt
        if rc is None:
            if info.rc != 0 and not self.connected.is_set():
                with self._lock:
                    self._puback_evt.pop(info.mid, None)
                raise BrokerUnavailable(f"publish to {topic} failed: not connected")
            if not evt.wait(timeout):
                with self._lock:
                    self._puback_evt.pop(info.mid, None)
                raise BrokerUnavailable(f"no PUBACK for {topic} within {timeout}s")
            with self._lock:
                self._puback_evt.pop(info.mid, None)
                rc = self._puback.pop(info.mid, None)
        if rc is not None and getattr(rc, "is_failure", False):
            raise BrokerUnavailable(f"broker refused publish to {topic}: {rc}")
        return rc

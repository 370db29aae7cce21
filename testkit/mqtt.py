"""A small synchronous MQTT test client over the project's own client factory."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from protocol.mqtt import BrokerSettings, connect, make_client


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    properties: Any


class TestClient:
    """Connects, subscribes, and collects messages in a queue."""

    __test__ = False  # not a pytest class

    def __init__(self, broker: Any, client_id: str, *, username: str | None = None,
                 password: str | None = None, clean_start: bool = True) -> None:
        self.settings = BrokerSettings(host=broker.host, port=broker.port, username=username,
                                       password=password, session_expiry_s=300)
        self.client = make_client(client_id, self.settings)
        self.messages: queue.Queue[Received] = queue.Queue()
        self.connected = threading.Event()
        self.connack: Any = None
        self._connacked = threading.Event()  # any CONNACK, refusals included
        self.suback: list[Any] = []
        self._subacked = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.clean_start = clean_start

    def _on_connect(self, _c, _u, _flags, reason_code, _props) -> None:
        self.connack = reason_code
        self._connacked.set()
        if not reason_code.is_failure:
            self.connected.set()

    def _on_disconnect(self, *_args) -> None:
        self.connected.clear()

    def _on_message(self, _c, _u, msg) -> None:
        self.messages.put(Received(msg.topic, msg.payload, msg.retain, msg.properties))

    def _on_subscribe(self, _c, _u, _mid, reason_codes, _props) -> None:
        self.suback = list(reason_codes)
        self._subacked.set()

    def start(self, timeout: float = 5.0) -> TestClient:
        connect(self.client, self.settings, clean_start=self.clean_start)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise TimeoutError(f"not connected: {self.connack}")
        return self

    def try_start(self, timeout: float = 3.0) -> Any:
        """Connect and return the CONNACK reason code (for refusal tests)."""
        connect(self.client, self.settings, clean_start=True)
        self.client.loop_start()
        self._connacked.wait(timeout)
        return self.connack

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> list[Any]:
        self._subacked.clear()
        self.client.subscribe(topic, qos)
        if not self._subacked.wait(timeout):
            raise TimeoutError(f"no SUBACK for {topic}")
        return self.suback

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False,
                timeout: float = 5.0) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(timeout)
        return info

    def get(self, timeout: float = 5.0) -> Received:
        return self.messages.get(timeout=timeout)

    def drain(self, quiet: float = 0.3) -> list[Received]:
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return out

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

"""The unit's MQTT link: one paho client whose callbacks only enqueue.

Why: a paho callback that blocks stalls the network thread (paho #177,
#354); here every callback puts a typed event (``firmware.agent.events``) on the
agent's queue and returns.
The session is persistent (``clean_start=False`` + session expiry) so acks
and commands sent while the unit was away are delivered when it returns.
The retained ``offline`` status is the will.

A dead link (a cut cable, a cell that stopped forwarding) closes no socket,
and paho notices only after up to two keepalives (it pings after one idle
keepalive and gives up after another). :meth:`Link.check` notices within
one: after ``keepalive/2`` with nothing from the broker it sends a probe
that always gets a reply (an UNSUBSCRIBE of a topic never subscribed: the
broker answers UNSUBACK, nothing else changes), and when that reply has not
come after another ``keepalive/2`` it shuts the socket down, so paho reports
the disconnect and reconnects as usual.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

from firmware.agent import events as ev
from protocol.codec import encode
from protocol.fleet import Profile, Status
from protocol.mqtt import BrokerSettings, connect, make_client
from protocol.topics import DeviceTopic, device_topic

log = logging.getLogger(__name__)


class Link:
    """Publish/subscribe for one device; state changes arrive on ``events``."""

    def __init__(self, device_id: str, broker: BrokerSettings, events: ev.EventQueue, *,
                 profile: Profile, max_inflight: int = 100,
                 reconnect_max_s: float = 15.0) -> None:
        import paho.mqtt.client as mqtt

        self._mqtt = mqtt
        self.device_id = device_id
        self.broker = broker
        self.events = events
        self.connected = False  # as seen by the main loop (set when it handles "connected")
        self.client = make_client(device_id, broker, max_inflight=max_inflight)
        will = Status(device=device_id, state="offline", profile=profile, reason="will")
        self.client.will_set(device_topic(device_id, DeviceTopic.STATUS), encode(will), qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(reconnect_max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_unsubscribe = self._on_unsubscribe
        self.publish_failures = 0
        self.keepalive_s = broker.keepalive_s
        #: monotonic time of the last packet from the broker (written by paho's thread)
        self.last_inbound = time.monotonic()
        self._probe_at: float | None = None
        self.probes = 0
        self.dead_links = 0
        #: set once the broker has acknowledged our subscriptions (tests wait on it)
        self.subscribed = threading.Event()

    # -- callbacks: enqueue only -----------------------------------------

    def _heard(self) -> None:
        self.last_inbound = time.monotonic()

    def _on_unsubscribe(self, *_a: Any) -> None:
        self._heard()  # the probe's answer

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason_code: Any, _props: Any) -> None:
        self._heard()
        if reason_code.is_failure:
            self.events.put(ev.LinkRefused(str(reason_code)))
        else:
            self.events.put(ev.LinkUp(bool(getattr(flags, "session_present", False))))

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        self.subscribed.clear()
        self.events.put(ev.LinkDown(str(reason_code)))

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, reason_codes: Any, _props: Any) -> None:
        self._heard()
        self.subscribed.set()
        refused = [str(rc) for rc in reason_codes if getattr(rc, "is_failure", False)]
        if refused:
            self.events.put(ev.SubscribeRefused(refused))

    def _on_publish(self, _c: Any, _u: Any, _mid: Any, reason_code: Any, _props: Any) -> None:
        self._heard()
        # MQTT 5 PUBACK reason: "Not authorized" when the ACL refuses the topic
        if getattr(reason_code, "is_failure", False):
            self.events.put(ev.PublishRefused(str(reason_code)))

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        self._heard()
        self.events.put(ev.Message(msg.topic, bytes(msg.payload), msg.properties, bool(msg.retain)))

    # -- main-loop side ---------------------------------------------------

    def start(self) -> None:
        connect(self.client, self.broker, clean_start=False)
        self.client.loop_start()

    def check(self, now: float) -> bool:
        """Probe a quiet link; True when it is dead (the caller marks it down).
        Called from the main loop at least every ``timings.loop_tick_s``."""
        if not self.connected:
            self._probe_at = None
            return False
        half = self.keepalive_s / 2
        if self._probe_at is not None and self.last_inbound >= self._probe_at:
            self._probe_at = None  # answered
        if self._probe_at is None:
            if now - self.last_inbound >= half:
                self._probe_at = now  # before sending: the answer may come at once
                self.probes += 1
                self.client.unsubscribe(f"{self.topic(DeviceTopic.STATUS)}/probe")
            return False
        if now - self._probe_at < half:
            return False
        self._probe_at = None
        self.dead_links += 1
        log.warning("Tautan mati / link dead: nothing from the broker for %.1f s (keepalive %d s)",
                    now - self.last_inbound, self.keepalive_s)
        sock = self.client.socket()
        if sock is not None:  # paho sees EOF, reports the disconnect, and reconnects
            with contextlib.suppress(OSError, AttributeError):
                sock.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]
        return True

    def topic(self, kind: DeviceTopic) -> str:
        return device_topic(self.device_id, kind)

    def subscribe_own(self) -> None:
        """Acks, desired config (retained: re-read on every connect), commands, flag list."""
        self.client.subscribe([
            (self.topic(DeviceTopic.ACK), 1),
            (self.topic(DeviceTopic.CONFIG_DESIRED), 1),
            (self.topic(DeviceTopic.CMD), 1),
            (self.topic(DeviceTopic.FLAGS), 1),  # panels: flagged numbers (retained)
        ])

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                properties: Any = None) -> Any:
        """Hand a message to paho; None when the link is down or paho refused.

        Never a silent no-op: a refusal is counted and the caller keeps the
        item (the outbox retries it)."""
        if not self.connected:
            return None
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
            self.publish_failures += 1
            log.debug("publish to %s refused: rc=%s", topic, info.rc)
            return None
        return info

    def response_properties(self, correlation: bytes | None) -> Any:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        if correlation is not None:
            props.CorrelationData = correlation
        return props

    def stop(self, final_status: Status | None = None) -> None:
        """Clean shutdown: publish the final status (not the will) and leave."""
        if final_status is not None and self.connected:
            info = self.client.publish(self.topic(DeviceTopic.STATUS), encode(final_status), qos=1,
                                       retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2.0)
        self.client.disconnect()
        self.client.loop_stop()

"""MQTT side of the gateway: subscribe, queue, group-commit, ack.

paho's callbacks never block: ``on_message`` only puts the message on a
bounded queue. A worker thread takes everything waiting (up to
``batch_max``), stores it in one transaction (:class:`gateway.intake.Intake`),
then publishes one ``Ack`` per device and only then PUBACKs the QoS 1
messages (manual acks): what a gateway killed before the commit held stays
unacked in its persistent session, which it resumes when it restarts or a
surviving instance takes over (gateway.failover); the unit's own retry
covers the rest. The MQTT 5 receive maximum bounds how many unacked
messages the broker hands us, which also bounds the queue.

On PostgreSQL two workers by default (``ingest.workers``), each with its
own queue: a device's messages always go to the same one, so they are
stored in the order they came, and a batch waiting on a slow commit holds
up only its own worker's units (SQLite's one writer at a time gains nothing).
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway import province
from gateway.config.models import SiteConfig
from gateway.failover import STATE_FILTER, STATE_PREFIX, PeerWatch, state_payload, state_topic
from gateway.intake import BatchResult, DeviceAck, Intake, Message, payload_id
from gateway.metrics import Metrics
from gateway.poison import PoisonGuard, topic_device
from protocol.codec import encode
from protocol.mqtt import connect_properties, make_client
from protocol.reports import Ack, Rejection
from protocol.topics import DeviceTopic, device_filter, device_topic

log = logging.getLogger("gateway.ingest")
T = TypeVar("T")

#: (kind, QoS, shared). Status is not shared: a shared subscription gets no
#: retained messages (MQTT 5), and the retained status is how a restarted
#: gateway learns which units are online. Every instance writes it; it is
#: idempotent and rare.
SUBSCRIPTIONS = ((DeviceTopic.INCIDENT, 1, True), (DeviceTopic.CALL, 1, True),
                 (DeviceTopic.STATUS, 1, False), (DeviceTopic.TELEMETRY, 0, True),
                 (DeviceTopic.DESK, 1, False))


@dataclass
class _Item:
    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool = False  # a re-delivery of a message we got and did not PUBACK
    owner: Any = None  # an Adoption when it came through a dead peer's session
    at: float = field(default_factory=time.monotonic)  # when it reached us


class MqttIngest:
    def __init__(self, cfg: SiteConfig, intake: Intake, metrics: Metrics, *, instance: str | None,
                 on_commit: threading.Event | None = None) -> None:
        self.cfg = cfg
        self.intake = intake
        self.metrics = metrics
        self.guard = PoisonGuard(intake.db)
        self.settings = cfg.gateway.ingest
        self.on_commit = on_commit
        self.on_flagged: threading.Event | None = None  # gateway.flag_sync wakes on a new flag
        self.events: Any = None  # gateway.events.Broadcaster: new cases to the consoles
        self.client_id = self.settings.client_id or default_client_id(instance)
        n = self.settings.workers or (2 if intake.db.engine.dialect.name == "postgresql" else 1)
        # each holds queue_max: one busy device's messages may all land in one
        self.queues: list[queue.Queue[_Item]] = [queue.Queue(maxsize=self.settings.queue_max)
                                                 for _ in range(n)]
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self.workers: list[threading.Thread] = []
        self.instance = instance
        # a province gateway takes its cities' bridged cases instead (gateway.province)
        self.filters: list[tuple[str, int]] = province.subscriptions() if cfg.province else [
            (device_filter(k, shared=sh), q) for k, q, sh in SUBSCRIPTIONS]
        self.client = make_client(self.client_id, cfg.broker, max_inflight=200)
        self.client.manual_ack_set(True)
        # the broker says "offline" for us the moment our connection dies, so a
        # peer takes over our session (gateway.failover)
        self.state_topic = state_topic(self.client_id)
        self.client.will_set(self.state_topic, state_payload(self.client_id, instance, "offline"),
                             qos=1, retain=True)
        self.peers = PeerWatch(self.client_id, cfg.broker, self.settings.receive_maximum,
                               [f for f, _q in self.filters],
                               self._enqueue_adopted)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # -- paho callbacks (never block) -------------------------------------
    def _on_connect(self, client: Any, _u: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if rc.is_failure:
            log.error("Broker menolak / broker refused the gateway: %s", rc)
            return
        self.connected.set()
        client.subscribe([*self.filters, (STATE_FILTER, 1)])
        client.publish(self.state_topic, state_payload(self.client_id, self.instance, "online"),
                       qos=1, retain=True)
        log.info("Terhubung ke broker / connected to broker as %s", self.client_id)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: Any, codes: Any, _p: Any) -> None:
        bad = [c for c in codes if c.is_failure]
        if bad:
            log.error("Langganan ditolak / subscription refused: %s", bad)
        else:
            self.subscribed.set()

    def _on_disconnect(self, *_a: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()

    def _on_message(self, client: Any, _u: Any, msg: Any) -> None:
        if msg.topic.startswith(STATE_PREFIX + "/"):
            self.peers.on_state(msg.payload)
            if msg.qos:
                client.ack(msg.mid, msg.qos)
            return
        try:
            q = self._queue_for(msg.topic)
            q.put_nowait(_Item(msg.topic, msg.payload, msg.mid, msg.qos, bool(msg.dup)))
        except queue.Full:
            # only QoS 0 telemetry can get here: QoS 1 is bounded by the receive
            # maximum (< queue_max), and an unacked QoS 1 would be redelivered
            self.metrics.reject("queue_full", None, f"ingest queue full, dropped {msg.topic}")

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        from paho.mqtt.packettypes import PacketTypes  # noqa: F401 - paho present

        props = connect_properties(self.cfg.broker)
        props.ReceiveMaximum = self.settings.receive_maximum
        self.client.connect_async(host=self.cfg.broker.host, port=self.cfg.broker.port,
                                  keepalive=self.cfg.broker.keepalive_s, clean_start=False,
                                  properties=props)
        self.client.loop_start()
        for i, q in enumerate(self.queues):
            name = "ingest" if len(self.queues) == 1 else f"ingest-{i}"
            self.workers.append(threading.Thread(target=self._run, args=(q,), name=name, daemon=True))
        for w in self.workers:
            w.start()

    def _queue_for(self, topic: str) -> queue.Queue[_Item]:
        """The worker of the topic's device (a stable hash of the topic minus its kind)."""
        if len(self.queues) == 1:
            return self.queues[0]
        return self.queues[zlib.crc32(topic.rpartition("/")[0].encode()) % len(self.queues)]

    def _enqueue_adopted(self, topic: str, payload: bytes, mid: int, qos: int, owner: Any,
                         dup: bool = False) -> None:
        # bounded by the receive maximum
        self._queue_for(topic).put(_Item(topic, payload, mid, qos, dup, owner=owner))

    def stop(self) -> None:
        """Stop taking in; what is received but not committed stays unacked in
        our session, and the will goes out so a peer takes the session over."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.reasoncodes import ReasonCode

        self.peers.stop()
        self._stop.set()
        for w in self.workers:
            w.join(10)
        self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, timeout: float, *, retain: bool = False) -> None:
        """QoS 1 publish that raises unless the broker acknowledged it (used
        for OPD terminals: a silent publish while offline is not a delivery)."""
        if not self.connected.is_set():
            raise ConnectionError("not connected to the broker")
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise TimeoutError("no PUBACK from broker")

    # -- worker ------------------------------------------------------------
    def _take_batch(self, q: queue.Queue[_Item]) -> list[_Item]:
        try:
            first = q.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.settings.batch_max:
            try:
                batch.append(q.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self, q: queue.Queue[_Item]) -> None:
        """The worker. An exception escaping a batch is a bug: the worker
        stops (``alive`` turns false, ``/readyz`` answers 503, ``siaga
        gateway`` exits non-zero and systemd restarts it; the unfinished
        messages come back from the broker and the poison guard judges them)."""
        try:
            while not self._stop.is_set():
                batch = self._take_batch(q)
                self.metrics.queue_depth.set(sum(x.qsize() for x in self.queues))
                if batch:
                    now, queued = time.monotonic(), self.metrics.ingest_seconds.labels(stage="queued")
                    for item in batch:
                        queued.observe(now - item.at)
                    self._handle(batch)
        except _Stopping:
            pass
        except BaseException:
            log.critical("Pekerja ingest mati / ingest worker died; nothing more is stored "
                         "until the gateway restarts", exc_info=True)
            return

    def alive(self) -> bool:
        return bool(self.workers) and all(w.is_alive() for w in self.workers)

    def _handle(self, batch: list[_Item]) -> None:
        """Dead-letter the poison, process suspects alone and the rest as one
        batch (raises _Stopping when the gateway stops meanwhile)."""
        tri = self._durable(lambda: self.guard.triage(batch))
        for item, attempts in tri.poison:
            self._dead_letter(item, "poison", attempts,
                              f"{item.topic}: processing died {attempts} times on it")
            result = BatchResult()
            self._reject_to_unit(result, item, "poison")
            self._finish([item], result)
        for item in tri.suspects:  # re-delivered: it may have killed us; alone, attempt first
            self._durable(functools.partial(self.guard.mark, item))
            result = self._stored([item])
            self._durable(functools.partial(self.guard.forget, item))
            self._finish([item], result)
        if tri.clean:
            self._finish(tri.clean, self._stored(tri.clean))

    def _stored(self, items: list[Any]) -> BatchResult:
        t0 = time.monotonic()
        result = self._store(items)
        if result is None:
            raise _Stopping
        self.metrics.ingest_seconds.labels(stage="stored").observe(time.monotonic() - t0)
        return result

    def _finish(self, items: list[Any], result: BatchResult) -> None:
        self._send_acks(result)
        now, acked = time.monotonic(), self.metrics.ingest_seconds.labels(stage="acked")
        for i in items:
            acked.observe(now - i.at)
            if i.owner is not None:  # came through a dead peer's adopted session
                i.owner.ack(i.mid, i.qos)
            elif i.qos:
                self.client.ack(i.mid, i.qos)
        if self.on_commit is not None and result.dispatches:
            self.on_commit.set()
        if self.on_flagged is not None and result.flagged:
            self.on_flagged.set()
        if self.events is not None:
            for case_id in result.new_cases:
                self.events.publish("case", id=case_id, new=True)

    def _durable(self, fn: Callable[[], T]) -> T:
        """``fn()`` retried while the database is down (raises _Stopping on
        stop); an error with the database up is a bug and propagates."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                return fn()
            except Exception:
                if self.intake.database_ok():
                    raise
            log.error("Basis data tidak tersedia / database unavailable; retrying in %.1f s", delay)
            self._stop.wait(delay)
            delay = min(delay * 2, 10.0)
        raise _Stopping

    def _dead_letter(self, item: Any, reason: str, attempts: int, detail: str) -> None:
        self._durable(lambda: self.guard.dead_letter(item, reason, attempts))
        self.metrics.dead_lettered.labels(reason=reason).inc()
        self.metrics.reject(reason, topic_device(item.topic), detail)

    def _reject_to_unit(self, result: BatchResult, item: Any, reason: str) -> None:
        """Tell the unit, for the kinds it waits an ack for."""
        device = topic_device(item.topic)
        if device and item.topic.rsplit("/", 1)[-1] in (DeviceTopic.INCIDENT, DeviceTopic.CALL):
            result.acks.setdefault(device, DeviceAck()).rejected.append(
                Rejection(id=payload_id(item.payload), reason=reason))

    def _store(self, batch: list[_Item]) -> BatchResult | None:
        """Store the batch, retrying while the database is unavailable: nothing
        is PUBACKed or acked before it is committed (None: stopping).

        When a batch fails, its messages are tried one by one. If the
        database answers but some message still fails (a bug meeting an odd
        payload), that message is rejected as ``internal_error``, kept in the
        dead-letter table and PUBACKed, so one poison message cannot stop the
        ingest for everyone."""
        msgs = [Message(i.topic, i.payload) for i in batch]
        delay = 0.5
        while not self._stop.is_set():
            try:
                return self.intake.process(msgs)
            except Exception:
                log.exception("Gagal menyimpan / storing a batch of %d failed", len(batch))
            merged, failed = BatchResult(), []
            for m in msgs:
                try:
                    merged.merge(self.intake.process([m]))
                except Exception:
                    failed.append(m)
            if len(failed) < len(msgs) or self.intake.database_ok():
                for m in failed:
                    self._dead_letter(m, "internal_error", 1,
                                      f"storing failed on {m.topic}; see the error logged above")
                    self._reject_to_unit(merged, m, "internal_error")
                return merged
            log.error("Basis data tidak tersedia / database unavailable; retrying in %.1f s", delay)
            self._stop.wait(delay)
            delay = min(delay * 2, 10.0)
        return None

    def _send_acks(self, result: BatchResult) -> None:
        from gateway.clock import utcnow

        if self.cfg.province is not None:
            return  # the city gateway acks its units; nothing goes down the bridge
        now = utcnow()
        for device, a in result.acks.items():
            if not a.stored and not a.rejected:
                continue
            ack = Ack(stored=a.stored, rejected=a.rejected, gateway_time=now)
            self.client.publish(device_topic(device, DeviceTopic.ACK), encode(ack), qos=1)


class _Stopping(Exception):
    """The gateway is stopping while waiting for the database."""


def default_instance() -> str:
    return socket.gethostname().split(".")[0].lower() or "gateway"


def default_client_id(instance_id: str | None) -> str:
    """Unique per gateway process: two processes on one host from one site
    file must never share a client id, or the broker hands the session back
    and forth between them (each CONNECT takes the other's session over)."""
    parts = [p for p in (instance_id, default_instance(), str(os.getpid())) if p]
    return "gateway-" + "-".join(parts)

"""Take over a dead gateway's MQTT session, so its share is never stranded.

Why: Mosquitto goes on handing a dead member of the shared subscription its
share (it queues them in the dead client's persistent session) until that
session expires, and messages it had received but not yet PUBACKed stay
there too. Only the units' end-to-end re-send would bring them back, after
``ack_timeout_s`` or later.

How: every gateway announces itself on a retained
``siaga/v1/gateway/{client_id}/state`` (``online``), with a will saying
``offline`` (published by the broker the moment it sees the connection die;
a clean stop also asks for it). Every gateway watches those topics. On a
peer's ``offline`` it connects *with the peer's client id* and
``clean_start=False``: it now holds the peer's session, so the broker hands it
everything queued or unacknowledged there, which goes through this gateway's
own ingest (stored once, acked to the unit, then PUBACKed). It unsubscribes
the session's filters at once, so nothing new is routed to it, and when the
session is empty it disconnects with session expiry 0, which ends the
session: the peer is no longer a member of the share.

Races: if the peer comes back it takes its session back (the broker
disconnects the adopter, which stops; what it had not PUBACKed is
redelivered to the owner and deduplicated by id). Two survivors never adopt
at once: each first takes the ``adopt`` lock (gateway.roles.lock_for; the
holder's death drops it; one for all peers: adoptions are rare and take
seconds), and the second then finds the session ended. Without it, the
second took the session from the first mid-drain and got the first's
unfinished re-deliveries again, whose attempt rows the poison guard read as
attempts that had died (a stored incident dead-lettered and rejected as
``poison``). The adopter never reconnects.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from protocol.mqtt import BrokerSettings, connect_properties, make_client

log = logging.getLogger("gateway.failover")

STATE_PREFIX = "siaga/v1/gateway"
STATE_FILTER = f"{STATE_PREFIX}/+/state"


def gateway_topic(client_id: str, leaf: str) -> str:
    """``siaga/v1/gateway/<client id>/<leaf>`` (its state, its console events)."""
    if not client_id or any(c in client_id for c in "+#/"):
        raise ValueError(f"client id {client_id!r} cannot name a topic")
    return f"{STATE_PREFIX}/{client_id}/{leaf}"


def state_topic(client_id: str) -> str:
    return gateway_topic(client_id, "state")


def state_payload(client_id: str, instance: str | None, state: str) -> bytes:
    return json.dumps({"client_id": client_id, "instance": instance, "state": state,
                       "at": round(time.time(), 3)}).encode()


def parse_state(payload: bytes) -> tuple[str, str] | None:
    """(client_id, state) of a state message, None when unreadable."""
    try:
        data = json.loads(payload)
        return str(data["client_id"]), str(data["state"])
    except (ValueError, KeyError, TypeError):
        return None


#: enqueue(topic, payload, mid, qos, client, dup): hand a message to the ingest worker,
#: which stores it, acks the unit, then PUBACKs it on ``client``
Enqueue = Callable[[str, bytes, int, int, Any, bool], None]


class Adoption(threading.Thread):
    """Hold one dead peer's session until it is empty, then end it."""

    def __init__(self, peer: str, settings: BrokerSettings, receive_maximum: int, filters: list[str],
                 enqueue: Enqueue, *, quiet_s: float = 1.0, max_s: float = 300.0,
                 on_done: Callable[[Adoption], None] | None = None, lock: Any = None) -> None:
        super().__init__(name=f"adopt-{peer}", daemon=True)
        self.peer = peer
        self.settings = settings
        self.receive_maximum = receive_maximum
        self.filters = filters
        self.enqueue = enqueue
        self.quiet_s = quiet_s
        self.max_s = max_s
        self.on_done = on_done
        self.lock = lock  # try_acquire()/release(): one adopter of this peer at a time
        self.received = 0
        self.acked = 0
        self.session_present: bool | None = None
        self.unsubscribed_at: float | None = None  # wall clock: no new message routed here after it
        self.result = "running"
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.client = make_client(peer, settings, max_inflight=200)
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_unsubscribe = self._on_unsubscribe
        self.client.on_disconnect = self._on_disconnect
        self._connected = threading.Event()
        self._gone = threading.Event()

    # -- paho callbacks (this thread's loop) -----------------------------------
    def _on_connect(self, client: Any, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self.result = f"refused: {rc}"
            self._gone.set()
            return
        self.session_present = bool(flags.session_present)
        self._connected.set()
        if self.session_present:
            client.unsubscribe(self.filters)

    def _on_unsubscribe(self, *_a: Any) -> None:
        self.unsubscribed_at = time.time()
        self._last = time.monotonic()

    def _on_message(self, client: Any, _u: Any, msg: Any) -> None:
        with self._lock:
            self.received += 1
            self._last = time.monotonic()
        if msg.topic.startswith(STATE_PREFIX + "/"):
            self.ack(msg.mid, msg.qos, client)  # the peer's own watch: nothing to store
            return
        # dup: the dead peer was sent it and never PUBACKed it (the poison guard's clue)
        self.enqueue(msg.topic, msg.payload, msg.mid, msg.qos, self, bool(msg.dup))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if self.result == "running":
            # the owner came back, or another survivor adopted: it has the session now
            self.result = f"taken back ({rc})"
        self._gone.set()

    # -- called by the ingest worker after the commit ---------------------------
    def ack(self, mid: int, qos: int, client: Any = None) -> None:
        """PUBACK on the adopted session (never raises into the ingest worker:
        if the session was taken back meanwhile, its owner gets the message again)."""
        if qos:
            try:
                (client or self.client).ack(mid, qos)
            except Exception as exc:
                log.info("PUBACK on adopted session %s failed: %s", self.peer, exc)
        with self._lock:
            self.acked += 1
            self._last = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()

    # -- the thread ----------------------------------------------------------
    def run(self) -> None:
        started = time.monotonic()
        locked = False
        try:
            locked = self._wait_for_lock(started)
            if locked:
                self._adopt(started)
        except Exception as exc:  # a broker we cannot reach: the session expiry still bounds it
            self.result = f"failed: {exc}"
            log.warning("Gagal mengambil alih sesi / could not take over %s: %s", self.peer, exc)
        finally:
            self.client.loop_stop()
            if locked and self.lock is not None:
                self.lock.release()
            if self.on_done:
                self.on_done(self)
        log.info("Sesi %s diambil alih / took over session %s: %s, %d messages, %.2f s "
                 "(unsubscribed at %s)", self.peer, self.peer, self.result, self.received,
                 time.monotonic() - started, self.unsubscribed_at)

    def _wait_for_lock(self, started: float) -> bool:
        """Wait while another survivor adopts this peer (it ends the session,
        or dies and drops the lock); False when stopping or after max_s."""
        if self.lock is None:
            return True
        while not self.lock.try_acquire():
            if self._stopping.wait(0.1) or time.monotonic() - started > self.max_s:
                self.result = "left (stopping)" if self._stopping.is_set() else "left (lock timeout)"
                return False
        return True

    def _adopt(self, started: float) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = connect_properties(self.settings)
        props.ReceiveMaximum = self.receive_maximum
        self.client.connect(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s,
                            clean_start=False, properties=props)
        self.client.loop_start()
        if not self._connected.wait(10) or self._gone.is_set():
            self.result = self.result if self.result != "running" else "no CONNACK"
            return
        done = False
        while not self._gone.is_set() and not self._stopping.is_set():
            with self._lock:
                idle = time.monotonic() - self._last
                empty = self.acked >= self.received
            done = not self.session_present or (self.unsubscribed_at is not None and empty
                                                and idle >= self.quiet_s)
            if done or time.monotonic() - started > self.max_s:
                break
            self._gone.wait(0.05)
        if self._gone.is_set():
            return
        if done:
            self.result = "ended" if self.session_present else "no session left"
            end = Properties(PacketTypes.DISCONNECT)
            end.SessionExpiryInterval = 0  # the session ends here: out of the shared group
            self.client.disconnect(properties=end)
        else:
            # stopping, or still busy after max_s: leave the session (and what it
            # holds unacked) to its owner or to its expiry, never end it half-drained
            self.result = "left (stopping)" if self._stopping.is_set() else "left (timeout)"
            self.client.disconnect()
        self._gone.wait(5)


class PeerWatch:
    """Start an :class:`Adoption` for every peer announced ``offline``."""

    def __init__(self, own_client_id: str, settings: BrokerSettings, receive_maximum: int,
                 filters: list[str], enqueue: Enqueue) -> None:
        self.own = own_client_id
        self.settings = settings
        self.receive_maximum = receive_maximum
        self.filters = [*filters, STATE_FILTER]
        self.enqueue = enqueue
        #: lock(name) -> a cross-instance lock (gateway.roles.lock_for), set by gateway.runtime
        self.lock: Callable[[str], Any] | None = None
        self.active: dict[str, Adoption] = {}
        self.done: list[Adoption] = []
        self._lock = threading.Lock()
        self._closed = False

    def on_state(self, payload: bytes) -> None:
        parsed = parse_state(payload)
        if parsed is None:
            return
        peer, state = parsed
        if peer == self.own or state != "offline":
            return
        with self._lock:
            if self._closed or peer in self.active:
                return
            a = Adoption(peer, self.settings, self.receive_maximum, self.filters, self.enqueue,
                         on_done=self._finished,
                         lock=self.lock("adopt") if self.lock is not None else None)
            self.active[peer] = a
        log.info("Gateway %s mati / peer %s went offline: taking over its session", peer, peer)
        a.start()

    def _finished(self, a: Adoption) -> None:
        with self._lock:
            self.active.pop(a.peer, None)
            self.done.append(a)

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            running = list(self.active.values())
        for a in running:
            a.stop()
        for a in running:
            a.join(10)

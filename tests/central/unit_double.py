"""TEST DOUBLE of a unit's fleet side (not the real agent).

Just enough of ``firmware/agent`` to exercise central against a real broker
with real per-unit credentials: retained status with an ``offline`` will,
heartbeats, desired-config handling (monotonic versions, refusal of an
unknown button), and command replies on the MQTT 5 response topic with the
correlation data echoed. The done-when tests in ``test_real_agent.py`` use
the real agent instead.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol.codec import decode, encode
from protocol.errors import PayloadError
from protocol.fleet import (
    Command,
    CommandResult,
    CommandStatus,
    DesiredConfig,
    ReportedConfig,
    Status,
    Telemetry,
    UnitSettings,
)
from protocol.mqtt import BrokerSettings, connect, make_client
from protocol.topics import DeviceTopic, device_topic


class UnitDouble:
    __test__ = False

    def __init__(self, broker: Any, device: str, password: str, *, buttons: tuple[str, ...] = ("sos",),
                 heartbeat_s: float = 0.2, telemetry: dict[str, Any] | None = None,
                 self_test: dict[str, Any] | None = None) -> None:
        self.device = device
        self.buttons = buttons
        self.heartbeat_s = heartbeat_s
        self.telemetry = dict(telemetry or {})
        self.self_test_result = self_test or {"ok": True, "checks": {"modem": True, "sim": True}}
        self.applied = ReportedConfig(device=device, version=0, settings=UnitSettings())
        self.ran: list[str] = []
        self.received: list[str] = []  # every command delivery, duplicates included
        self.seq = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        settings = BrokerSettings(host=broker.host, port=broker.port, username=device, password=password,
                                  session_expiry_s=600)
        self.settings = settings
        self.client = make_client(device, settings)
        self.client.will_set(device_topic(device, DeviceTopic.STATUS),
                             encode(Status(device=device, state="offline", reason="will")), qos=1,
                             retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self._hb: threading.Thread | None = None

    def _next_seq(self) -> int:
        with self._lock:
            self.seq += 1
            return self.seq

    def _on_connect(self, client, _u, _f, rc, _p) -> None:
        if rc.is_failure:
            return
        client.subscribe(device_topic(self.device, DeviceTopic.CMD), 1)
        client.subscribe(device_topic(self.device, DeviceTopic.CONFIG_DESIRED), 1)
        client.publish(device_topic(self.device, DeviceTopic.STATUS),
                       encode(Status(device=self.device, state="online", boot_id="b1")), qos=1, retain=True)
        self.connected.set()

    def _on_message(self, client, _u, msg) -> None:
        if msg.topic.endswith("/cmd"):
            self._command(client, msg)
        elif msg.topic.endswith("/config/desired") and msg.payload:
            self._desired(client, msg.payload)

    def _command(self, client, msg) -> None:
        props = msg.properties
        try:
            cmd = decode(Command, msg.payload)
        except PayloadError as exc:
            self.ran.append(f"bad:{exc.reason}")
            return
        self.received.append(cmd.id)
        now = datetime.now(UTC)
        if cmd.id in self.ran:
            status, result, error = CommandStatus.DUPLICATE, {}, "already ran"
        elif cmd.expires_at and cmd.expires_at <= now:
            status, result, error = CommandStatus.EXPIRED, {}, "expired"
        else:
            self.ran.append(cmd.id)
            if cmd.name == "ping":
                status, result, error = CommandStatus.OK, {"pong": True}, None
            elif cmd.name == "self_test":
                ok = self.self_test_result.get("ok", True)
                status, result, error = CommandStatus.OK, self.self_test_result, None if ok else "failed"
            else:
                status, result, error = CommandStatus.ERROR, {}, f"unknown command {cmd.name!r}"
        res = CommandResult(device=self.device, seq=self._next_seq(), command_id=cmd.id, status=status,
                            result=result, error=error)
        out = Properties(PacketTypes.PUBLISH)
        out.CorrelationData = props.CorrelationData
        client.publish(props.ResponseTopic, encode(res), qos=1, properties=out)

    def _desired(self, client, payload: bytes) -> None:
        try:
            doc = decode(DesiredConfig, payload)
        except PayloadError as exc:
            self._report(client, refused=None, error=str(exc))
            return
        if doc.version <= self.applied.version:
            return  # stale or already applied: nothing to do
        bad = [b for b in (doc.settings.button_categories or {}) if b not in self.buttons]
        if bad:
            self._report(client, refused=doc.version, error=f"button_categories.{bad[0]}: no such button")
            return
        if doc.settings.heartbeat_s:
            self.heartbeat_s = doc.settings.heartbeat_s
        self.applied = ReportedConfig(device=self.device, version=doc.version, settings=doc.settings)
        self._report(client)

    def _report(self, client, *, refused: int | None = None, error: str | None = None) -> None:
        rep = self.applied.model_copy(update={"refused_version": refused, "error": error})
        client.publish(device_topic(self.device, DeviceTopic.CONFIG_REPORTED), encode(rep), qos=1,
                       retain=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if self.connected.is_set():
                t = Telemetry(device=self.device, seq=self._next_seq(), config_version=self.applied.version,
                              **self.telemetry)
                self.client.publish(device_topic(self.device, DeviceTopic.TELEMETRY), encode(t), qos=0)

    def start(self, timeout: float = 10.0) -> UnitDouble:
        connect(self.client, self.settings, clean_start=False)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise TimeoutError(f"{self.device} not connected")
        self._stop.clear()
        self._hb = threading.Thread(target=self._beat, daemon=True)
        self._hb.start()
        return self

    def hang(self) -> None:
        """Stay connected but stop heartbeating (a wedged agent)."""
        self._stop.set()

    def crash(self) -> None:
        """Drop the connection without DISCONNECT: the broker fires the will."""
        self._stop.set()
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
        self.connected.clear()

    def stop(self) -> None:
        """Clean shutdown, as the agent does it: retained offline status first."""
        self._stop.set()
        if self.connected.is_set():
            self.client.publish(device_topic(self.device, DeviceTopic.STATUS),
                                encode(Status(device=self.device, state="offline", reason="shutdown")),
                                qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()

"""The fleet service: health watch, command dispatcher, desired publisher.

Unit status and telemetry have one consumer, the gateway's ingest, which
keeps each unit's ``devices`` row; on each tick the service turns the rows
that changed into fault episodes (:meth:`HealthWatch.poll`), marks late
heartbeats offline, expires and times out commands, sends queued commands
to units that are online, publishes desired documents not yet published,
and sends pending notices. Its own MQTT session carries only what the
ingest does not: commands out and their replies in (MQTT 5 correlation
data), desired documents out and reported configuration in.

Run exactly one per site (the gateway's ``fleet`` role): two watches would
send every notice twice. paho callbacks only enqueue; one worker thread does
all the work, so state changes are serialised.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from datetime import datetime
from typing import Any

from gateway.fleet.commands import CommandRecord, CommandService
from gateway.fleet.desired import ConfigService
from gateway.fleet.errors import BrokerUnavailable
from gateway.fleet.health import HealthWatch, online_ids
from gateway.fleet.link import Inbound, Link
from gateway.fleet.notify import Notifier, make_notifier
from gateway.fleet.registry import Registry
from gateway.fleet.rollout import RolloutService
from gateway.fleet.settings import FleetSettings
from gateway.fleet.sql import FleetDB, utcnow
from protocol.codec import decode_device_message
from protocol.errors import ProtocolError
from protocol.fleet import CommandResult, CommandStatus, DesiredConfig, ReportedConfig
from protocol.selftest import report_from
from protocol.topics import DeviceTopic, device_filter

log = logging.getLogger(__name__)

WATCHED = (DeviceTopic.CONFIG_REPORTED, DeviceTopic.CMD_RES)


def _false_leaves(obj: Any, prefix: str = "") -> list[str]:
    """Names of every ``False`` (or ``{"ok": False}``) inside a result."""
    out: list[str] = []
    if isinstance(obj, dict):
        if obj.get("ok") is False and prefix:
            return [prefix]
        for k, v in obj.items():
            if k == "ok":
                continue
            name = f"{prefix}.{k}" if prefix else str(k)
            if v is False:
                out.append(name)
            elif isinstance(v, dict):
                out += _false_leaves(v, name)
    return out


def self_test_outcome(res: CommandResult) -> tuple[bool, str]:
    """(passed, detail) from a self_test reply: an error reply, ``ok: false``
    or any false check counts as a failure; the detail names the checks
    (the agent's result nests them: ``outputs.led_x``, ``modem.sim_ready``)."""
    if res.status != CommandStatus.OK:
        return False, res.error or res.status.value
    report = report_from(res.result)  # revision 3: the unit names its failed parts itself
    if report is not None:
        return report.ok and not report.failed, ", ".join(report.failed)[:200]
    failed = _false_leaves(res.result)
    ok = res.result.get("ok", not failed) is not False and not failed
    return ok, ", ".join(failed)[:200]


class FleetService:
    """Health watch + command dispatcher + desired publisher, one thread."""

    def __init__(self, db: FleetDB, registry: Registry, settings: FleetSettings, *,
                 notifier: Notifier | None = None, client_id: str = "siaga-fleet",
                 audit_after_s: float = 3.0) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.config = ConfigService(db)
        self.commands = CommandService(db)
        self.rollouts = RolloutService(db, self.commands)
        self.health = HealthWatch(db, self.config, settings.health,
                                  notifier or make_notifier(settings.notifier))
        # persistent: reports and replies sent while the watch was
        # restarting are queued by the broker and applied when it is back
        self.link = Link(settings.broker, client_id=client_id, persistent=True)
        self.counters: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_tick = 0.0
        # retained desired documents as the broker holds them (audited once after start)
        self._retained_desired: dict[str, int] = {}
        self._audit_after_s = audit_after_s
        self._audit_at: float | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self, timeout: float = 10.0) -> FleetService:
        self.health.started_at = utcnow()
        self.link.start(timeout)
        for kind in WATCHED:
            self.link.subscribe(device_filter(kind))
        self.link.subscribe(device_filter(DeviceTopic.CONFIG_DESIRED))
        self._audit_at = time.monotonic() + self._audit_after_s
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        self.link.stop()

    def _run(self) -> None:
        tick_s = self.settings.health.tick_s
        while not self._stop.is_set():
            try:
                msg = self.link.inbox.get(timeout=tick_s / 2)
            except queue.Empty:
                msg = None
            try:
                if msg is not None:
                    self.handle(msg)
                if time.monotonic() - self._last_tick >= tick_s:
                    self._last_tick = time.monotonic()
                    self.tick()
            except Exception:  # the watch must outlive any single bad event
                log.exception("fleet service step failed")
                self.counters["internal_error"] += 1

    # -- inbound -----------------------------------------------------------
    def _reject(self, reason: str, topic: str, why: object) -> None:
        self.counters[f"rejected_{reason}"] += 1
        log.warning("rejected message on %s (%s): %s", topic, reason, why)

    def handle(self, msg: Inbound, now: datetime | None = None) -> None:
        """Apply one message from a unit; bad ones are counted and logged."""
        if not msg.payload:
            self.counters["retained_cleared"] += 1  # an admin cleared a retained topic
            return
        try:
            parsed, model = decode_device_message(msg.topic, msg.payload)
        except ProtocolError as exc:
            self._reject(getattr(exc, "reason", "bad"), msg.topic, exc)
            return
        device = parsed.device
        if isinstance(model, DesiredConfig):  # our own retained documents, read back
            self._retained_desired[device] = model.version
            return
        try:
            dev = self.registry.get(device)
        except KeyError:
            self._reject("unknown_device", msg.topic, device)
            return
        if not dev.enabled:
            self._reject("disabled_device", msg.topic, device)
            return
        self.counters[f"accepted_{parsed.kind.name.lower()}"] += 1
        if isinstance(model, ReportedConfig):
            self.config.record_reported(model)
        elif isinstance(model, CommandResult):
            rec = self.commands.record_result(model, msg.correlation)
            if rec is not None and rec.name == "self_test":
                ok, detail = self_test_outcome(model)
                self.health.on_self_test(device, ok, detail, now)

    # -- periodic ----------------------------------------------------------
    def online(self) -> set[str]:
        return online_ids(self.db)

    def tick(self, now: datetime | None = None) -> None:
        enabled = {d.id for d in self.registry.list() if d.enabled}
        for kind, n in self.health.poll(enabled).items():
            self.counters[f"applied_{kind}"] += n
        self.health.tick(now, enabled=enabled)
        for rec in self.commands.sweep(now):
            log.info("command %s to %s: %s", rec.name, rec.device, rec.state.value)
        self.rollouts.tick(now)
        self.dispatch(enabled)
        if self._audit_at is not None and time.monotonic() >= self._audit_at:
            self._audit_at = None
            self.audit_retained()
        for device in self.config.unpublished():
            try:
                self.config.publish(self.link, device)
            except BrokerUnavailable as exc:
                log.warning("desired config for %s not published yet: %s", device, exc)
                break
        self.health.flush_notices()

    def audit_retained(self) -> list[str]:
        """Mark for re-publishing every desired document the broker does not
        hold at its current version (a broker that lost its persistence, a
        retained topic cleared by hand): units must never lose their config."""
        stale = [r["device"] for r in self.db.query("SELECT device, version FROM fleet_desired "
                                                    "WHERE published_at IS NOT NULL")
                 if self._retained_desired.get(r["device"]) != r["version"]]
        if stale:
            with self.db.tx() as c:
                c.executemany("UPDATE fleet_desired SET published_at=NULL WHERE device=?",
                              [(d,) for d in stale])
            self.counters["republished_desired"] += len(stale)
            log.warning("broker lacks current desired config of %s: re-publishing", ", ".join(stale))
        return stale

    def dispatch(self, enabled: set[str]) -> list[CommandRecord]:
        """Send queued commands whose unit is online (and enabled)."""
        sent = []
        for rec in self.commands.due(self.online() & enabled):
            try:
                sent.append(self.commands.send(self.link, rec.id, unit_online=True))
            except BrokerUnavailable as exc:
                log.warning("queued command %s not sent yet: %s", rec.id, exc)
                break
        return sent

    def stats(self) -> dict[str, Any]:
        return dict(self.counters)

"""The agent's main loop: one thread does all the work.

Why one thread: paho, gpiozero, the modem reader and the control socket
only enqueue; this loop takes each item, commits what must be committed,
drives the LEDs, pumps the outbox and pings the systemd watchdog. A hung
loop stops the pings and systemd restarts the agent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from firmware.agent import events as ev
from firmware.agent.clock import Clock
from firmware.agent.config import UnitConfig
from firmware.agent.fleet import Fleet, initial_settings
from firmware.agent.hardware import REFUSED_SHOW_S, Hardware
from firmware.agent.health import Health, boot_reason, kernel_boot_id
from firmware.agent.link import Link
from firmware.agent.modem import ModemPort
from firmware.agent.outbox import Outbox
from firmware.agent.ports import LiveSettings, Ports
from firmware.agent.smsfallback import SmsFallback
from firmware.agent.store import OutboxItem, Store
from firmware.agent.updater import Updater
from protocol.categories import Category
from protocol.codec import decode, encode
from protocol.errors import BadTopic, PayloadError
from protocol.fleet import LogLevel, Profile, Status, UnitSettings
from protocol.ids import new_id
from protocol.reports import Ack
from protocol.sdnotify import notify
from protocol.selftest import SelfTestTrigger
from protocol.topics import DeviceTopic, device_topic, parse_device_topic

if TYPE_CHECKING:
    from firmware.agent.field import FieldProfile
    from firmware.agent.panel import PanelProfile

log = logging.getLogger("firmware.agent")

PRUNE_EVERY_S = 3600.0


def firmware_version() -> str:
    """The installed distribution's version, from its ``.dist-info`` folder on
    ``sys.path`` (firmware imports nothing but protocol; ``importlib.metadata``
    would also load the e-mail parser, ~2 MB for one line of text)."""
    import sys
    from pathlib import Path

    for entry in sys.path:
        for info in sorted(Path(entry or ".").glob("siaga112-*.dist-info")):
            try:
                for line in (info / "METADATA").read_text(encoding="utf-8").splitlines():
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line:
                        break
            except OSError:
                continue
    return "unknown"


def _profile(profile: Profile, ports: Ports) -> FieldProfile | PanelProfile:
    """The unit's one profile; the other one's module (the panel's desk and
    flag list, or the field box's) is never imported."""
    if profile is Profile.FIELD:
        from firmware.agent.field import FieldProfile

        return FieldProfile(ports)
    from firmware.agent.panel import PanelProfile

    return PanelProfile(ports)


class Agent:
    """One unit. ``run()`` blocks until ``request_stop()``; returns the exit code."""

    def __init__(self, cfg: UnitConfig, *, free_mb: Any = None) -> None:
        self.cfg = cfg
        self.version = firmware_version()
        self.q: ev.EventQueue = queue.Queue()
        self.store = Store(cfg.storage.path, min_free_mb=cfg.storage.min_free_mb,
                           critical_reserve_mb=cfg.storage.critical_reserve_mb, free_mb=free_mb)
        self.clock = Clock(cfg.clock_synced)
        version, settings = initial_settings(cfg, self.store)
        self.live = LiveSettings(cfg, settings, version)
        self.hw = Hardware(cfg, self.q)
        self.hw.volume = self.settings.volume if self.settings.volume is not None else cfg.volume
        pins = cfg.pin_map()
        self.modem = ModemPort(cfg.modem, self.q, reset_pin=pins.get("modem_reset"))
        t = cfg.timings
        self.link = Link(cfg.device_id, cfg.broker, self.q, profile=cfg.profile,
                         max_inflight=max(100, t.inflight_max + 20), reconnect_max_s=t.reconnect_max_s)
        self.outbox = Outbox(self.store, self._publish_item, window=t.inflight_max,
                             ack_timeout_s=t.ack_timeout_s, retry_base_s=t.retry_base_s,
                             retry_max_s=t.retry_max_s)
        ports = Ports(device_id=cfg.device_id, timings=t, location=cfg.location, store=self.store,
                      hw=self.hw, clock=self.clock, modem=self.modem, live=self.live, event=self.event,
                      publish=self.link.publish, enqueue=self.q.put, refused=self._refused)
        self.profile: FieldProfile | PanelProfile = _profile(cfg.profile, ports)
        self.fleet = Fleet(self)
        self.health = Health(self)
        self.updater = Updater(self)
        self.sms = SmsFallback(cfg.sms_fallback, store=self.store, modem=self.modem,
                               link_up=lambda: self.link.connected, event=self.event, enqueue=self.q.put)
        self.health.last_daily = self.store.get_meta("self_test_daily_last")
        self.health.restore_self_test(self.store.get_meta("self_test_last"))
        self.boot_id = new_id()
        kboot = kernel_boot_id()
        self.boot_reason = boot_reason(self.store.get_meta("clean_shutdown"),
                                       self.store.get_meta("kernel_boot_id"), kboot)
        self.store.set_metas(clean_shutdown="0", kernel_boot_id=kboot)
        self._stop = threading.Event()
        self.exit_code = 0
        #: called with (button, (status, id)) after each press is handled (the
        #: test-only control socket answers "recorded <id>" from it)
        self.press_observers: list[Callable[[str, tuple[str, str | None]], None]] = []
        self._last_watchdog = 0.0
        self._next_telemetry = 0.0
        self._next_faults = 0.0
        self._next_prune = time.monotonic() + 60.0
        self._first_connect = True
        self.rejected_messages = 0
        self.refused_until = 0.0  # monotonic: until then the fault LED flashes (a press not stored)
        self._acked: list[tuple[str, str | None]] = []
        self._ack_rejected: list[tuple[str, str]] = []
        self.sim: Any = None
        self.set_log_level(self.settings.log_level or cfg.log_level)
        user = cfg.broker.username
        if user and user != cfg.device_id:
            log.error("Pengguna broker %r berbeda dari id perangkat / broker user differs from the device "
                      "id %r: the site ACL only lets a unit use its own branch", user, cfg.device_id)
            self.health.link_faults.add("broker_user_mismatch")

    # -- settings in force ------------------------------------------------

    @property
    def settings(self) -> UnitSettings:
        return self.live.settings

    @property
    def config_version(self) -> int:
        return self.live.version

    def topic(self, kind: DeviceTopic) -> str:
        return device_topic(self.cfg.device_id, kind)

    def category_map(self) -> dict[str, Category]:
        return self.live.category_map()

    def operator(self) -> str | None:
        return self.live.operator()

    def event(self, kind: str, detail: Any = None, *, level: str = "INFO") -> None:
        log.debug("event %s %s", kind, detail)
        self.store.log_event(kind, detail, level=level)

    def enqueue(self, event: ev.AgentEvent) -> None:
        """Hand an event to the loop (any thread)."""
        self.q.put(event)

    def report_soon(self) -> None:
        """Send telemetry on the next loop turn (a state central should see now)."""
        self._next_telemetry = time.monotonic()

    def _refused(self) -> None:
        self.refused_until = time.monotonic() + REFUSED_SHOW_S

    def set_log_level(self, level: LogLevel | str) -> None:
        logging.getLogger("firmware").setLevel(str(level))

    def apply_settings(self, new: UnitSettings, version: int) -> None:
        """Live changes: heartbeat, button map, volume, centre number, log level, self-test time."""
        self.live.settings = new
        self.live.version = version
        if new.volume is not None:
            self.hw.volume = new.volume
        if new.log_level is not None:
            self.set_log_level(new.log_level)
        self._next_telemetry = time.monotonic()  # report the new version promptly

    def self_test(self, trigger: SelfTestTrigger = SelfTestTrigger.COMMAND) -> dict[str, Any]:
        res = self.health.self_test(trigger)
        self._next_telemetry = time.monotonic()  # pass or fail, the centre hears it now
        return res

    # -- lifecycle --------------------------------------------------------

    def request_stop(self, code: int = 0) -> None:
        """Thread- and signal-safe: the loop notices within one tick."""
        self.exit_code = code
        self._stop.set()

    def _notify(self, msg: str) -> None:
        notify(msg)

    def start(self) -> None:
        self.store.bind_thread()
        log.info("Agen mulai / agent starting: %s (%s), boot reason %s",
                 self.cfg.device_id, self.cfg.profile, self.boot_reason)
        self.event("start", {"reason": self.boot_reason, "version": self.version})
        self.modem.start()
        self.profile.start()
        if self.cfg.sim_control is not None:  # test only: refused unless the pins are mock pins
            from firmware.agent.simcontrol import SimControl
            self.sim = SimControl.attach(self, self.cfg.sim_control)
        if not self.cfg.broker.username:
            log.warning("Broker tanpa kredensial (hanya demo) / anonymous broker connection (demo only)")
        self.updater.on_start()
        self.link.start()
        self._notify("READY=1")
        self._notify(f"STATUS=device {self.cfg.device_id}, outbox {self.store.outbox_depth()}")

    def run(self) -> int:
        try:
            self.start()
            while not self._stop.is_set():
                self.loop_once()
        finally:
            self.shutdown()
        return self.exit_code

    def shutdown(self) -> None:
        self._notify("STOPPING=1")
        if self.sim is not None:
            self.sim.close()
        final = Status(device=self.cfg.device_id, state="offline", firmware=self.version,
                       profile=self.cfg.profile, boot_id=self.boot_id,
                       reason="restart" if self.exit_code else "shutdown")
        try:
            self.link.stop(final)
        except Exception as exc:
            log.warning("link stop: %s", exc)
        self.modem.close()
        self.hw.close()
        self.store.set_meta("clean_shutdown", "1")
        self.store.close()

    # -- the loop ---------------------------------------------------------

    def _timeout(self) -> float:
        now = time.monotonic()
        nxt = min(now + self.cfg.timings.loop_tick_s, self._next_telemetry, self._next_faults)
        d = self.outbox.next_deadline()
        if d is not None:
            nxt = min(nxt, d)
        return max(0.0, nxt - now)

    def loop_once(self) -> None:
        try:
            item: ev.AgentEvent | None = self.q.get(timeout=self._timeout())
        except queue.Empty:
            item = None
        handled = 0
        while item is not None:
            try:
                self._dispatch(item)
            except Exception:  # one bad event must never stop the unit
                log.exception("error handling %s", type(item).__name__)
            handled += 1
            if handled >= 200:
                break
            try:
                item = self.q.get_nowait()
            except queue.Empty:
                item = None
        self._apply_acks()
        self._tick()

    def _apply_acks(self) -> None:
        if not (self._acked or self._ack_rejected):
            return
        stored, rejected = self._acked, self._ack_rejected
        self._acked, self._ack_rejected = [], []
        for kind, msg_id in self.outbox.on_ack(stored, rejected):
            self.profile.on_delivered(kind, msg_id)

    def _dispatch(self, item: ev.AgentEvent) -> None:
        match item:
            case ev.Press(button):
                result = self.profile.on_press(button)
                for observe in self.press_observers:
                    observe(button, result)
            case ev.Message(topic, payload, properties):
                self._on_message(topic, payload, properties)
            case ev.LinkUp() | ev.LinkDown() | ev.LinkRefused() | ev.SubscribeRefused() | ev.PublishRefused():
                self._on_link(item)
            case ev.ModemEvent(event):
                self._on_modem(event)
            case ev.Dial(number):
                if self.modem.call_state in (None, "idle", "ended"):
                    ok = self.modem.dial(number)
                    self.event("dial", {"number": number, "ok": ok})
                    if not ok:  # no call: the id made for it must not go to a later one
                        self.profile.calls.next_outgoing_id = None
            case ev.SmsResult(msg_id, ok, detail, size):
                self.sms.on_result(msg_id, ok, detail, size)
            case ev.UpdateReady(targets, slot):
                self.updater.on_ready(targets, slot)
            case ev.UpdateRefused(version, error):
                self.event("update_refused", {"version": version, "error": error}, level="WARNING")
            case ev.OnLoop(fn, reply):
                self._apply_acks()  # a reader sees the acks that already arrived
                reply.put(fn())
            case _:
                log.warning("unknown event %r", item)

    def _on_link(self, e: ev.LinkUp | ev.LinkDown | ev.LinkRefused | ev.SubscribeRefused
                 | ev.PublishRefused) -> None:
        if isinstance(e, ev.LinkUp):
            self.link.connected = True
            log.info("Terhubung ke broker / connected (session present: %s)", e.session_present)
            self.link.subscribe_own()
            reason = self.boot_reason if self._first_connect else "reconnected"
            self._first_connect = False
            st = Status(device=self.cfg.device_id, state="online", firmware=self.version,
                        profile=self.cfg.profile, boot_id=self.boot_id, reason=reason)
            self.link.publish(self.topic(DeviceTopic.STATUS), encode(st), qos=1, retain=True)
            self.fleet.publish_reported()
            self._next_telemetry = time.monotonic()
        elif isinstance(e, ev.LinkDown):
            if self.link.connected:
                log.warning("Terputus dari broker / disconnected: %s", e.reason)
            self.link.connected = False
            self.outbox.on_disconnect()
        elif isinstance(e, ev.SubscribeRefused):
            # the ACL or the broker refused acks / config / commands: say so, loudly
            log.error("Langganan ditolak / subscription refused: %s", e.reasons)
            self.event("subscribe_refused", e.reasons, level="ERROR")
            self.health.link_faults.add("subscribe_refused")
        elif isinstance(e, ev.PublishRefused):
            if "publish_refused" not in self.health.link_faults:
                log.error("Broker menolak pesan / broker refused a publish: %s", e.reason)
                self.event("publish_refused", e.reason, level="ERROR")
            self.health.link_faults.add("publish_refused")
        else:
            log.error("Broker menolak / broker refused the connection: %s", e.reason)
            self.link.connected = False

    def _on_message(self, topic: str, payload: bytes, properties: Any) -> None:
        try:
            parsed = parse_device_topic(topic)
        except BadTopic as exc:
            self.rejected_messages += 1
            log.warning("message on unexpected topic: %s", exc)
            return
        if parsed.device != self.cfg.device_id:
            self.rejected_messages += 1
            log.warning("message for another device on %s", topic)
            return
        if parsed.kind is DeviceTopic.ACK:
            try:
                ack = decode(Ack, payload)
            except PayloadError as exc:
                self.rejected_messages += 1
                log.warning("Ack ditolak / bad ack: %s", exc)
                self.event("bad_ack", str(exc), level="WARNING")
                return
            # group commit: every ack handled in this wake-up is applied in one transaction
            self._acked += [(i.id, i.case) for i in ack.stored]
            self._ack_rejected += [(r.id, r.reason) for r in ack.rejected if r.id]
        elif parsed.kind is DeviceTopic.CONFIG_DESIRED:
            self.fleet.on_desired(payload)
        elif parsed.kind is DeviceTopic.CMD:
            self.fleet.on_command(payload, properties)
        elif parsed.kind is DeviceTopic.FLAGS and hasattr(self.profile, "flags"):
            self.profile.flags.on_message(payload)
        else:
            self.rejected_messages += 1
            log.warning("unexpected message kind %s", parsed.kind)

    def _on_modem(self, e: Any) -> None:
        from firmware.modem import events as mev  # loaded by the driver, before its first event

        if isinstance(e, mev.NetworkTime):
            self.clock.set_network_time(e.time)
        elif isinstance(e, mev.RegistrationChanged):
            from firmware.agent.health import registration
            self.health.registration = registration(e.state)
        elif isinstance(e, mev.ModemFault):
            # the driver's codes are the health watch's names (modem_silent, sim_missing, ...)
            self.health.modem_faults.add((e.code or "modem_fault")[:64])
            self.event("modem_fault", {"code": e.code, "detail": e.detail}, level="WARNING")
        elif isinstance(e, mev.ModemRestarted):
            self.health.modem_faults.clear()
            self.event("modem_restarted", {"reason": e.reason, "resets": e.resets}, level="WARNING")
        self.profile.on_modem(e)

    def _publish_item(self, item: OutboxItem) -> bool:
        return self.link.publish(item.topic, item.payload, qos=1) is not None

    def _tick(self) -> None:
        now = time.monotonic()
        if now < self.refused_until:
            self._next_faults = min(self._next_faults, now)
        if self.link.check(now):
            self._on_link(ev.LinkDown("link dead (no answer within the keepalive)"))
        self.outbox.pump(self.link.connected)
        self.sms.tick(now)
        self.profile.tick(now)
        self.updater.tick(now)
        if now >= self._next_faults:
            self._next_faults = now + 1.0
            pin_faults = self.hw.faults(self.cfg.timings.stuck_after_s)
            if pin_faults != self.health.pin_faults:
                # a door forced open or mains lost is reported now, not a heartbeat
                # later (at most once a second: this check runs once a second)
                self._next_telemetry = now
            self.health.pin_faults = pin_faults
            # the red LED: a pin fault, a modem fault, or a part the last self-test found dead
            h = self.health
            faulty = bool(h.pin_faults or h.self_test_faults) or self.modem.fault is not None
            self.hw.fault_led("flash" if now < self.refused_until else "on" if faulty else "off")
            if self.health.daily_due(datetime.now()):
                res = self.self_test(SelfTestTrigger.DAILY)
                self.event("self_test_daily", res)
        if now >= self._next_telemetry:
            hb = self.settings.heartbeat_s or self.cfg.heartbeat_s
            self._next_telemetry = now + hb
            self.health.refresh_modem()
            if self.link.connected:
                tel = self.health.telemetry()
                self.link.publish(self.topic(DeviceTopic.TELEMETRY), encode(tel), qos=0)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            counts = self.store.prune(self.cfg.storage.retention_days * 86400)
            if any(counts.values()):
                self.event("pruned", counts)
        if now - self._last_watchdog >= 1.0:
            self._last_watchdog = now
            self._notify("WATCHDOG=1")

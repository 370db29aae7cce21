"""Run a whole gateway in this process: database, MQTT ingest, dispatcher,
SLA watch and the HTTP API (uvicorn).

From Python (tests, ``siaga demo``)::

    from gateway.config import load_config
    from gateway.runtime import Gateway

    with Gateway(load_config("site.yaml")) as gw:   # start() ... stop()
        print(gw.url)                               # e.g. http://127.0.0.1:8112

``siaga gateway --config site.yaml`` calls :func:`run`, which blocks until
SIGINT/SIGTERM. A second process on the same broker and database shares the
load (shared subscription, outbox leases); give each its own
``gateway.instance_id``.

``web_only=True`` (``siaga gateway --web-only``) is a process that serves
the pages and the API and nothing else: no MQTT ingest, no dispatcher, no
singleton roles. Beside an intake process on the same database it keeps the
consoles' and dashboards' work off the intake's interpreter lock; the two
trade console events, dispatcher wake-ups and flag changes through
``gateway.event_feed``.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from typing import Any

from gateway.config.models import Mode, SiteConfig
from gateway.dispatch.worker import Dispatcher
from gateway.errors import InsecureConfig, WorkerDied
from gateway.event_feed import EventFeed
from gateway.ingest import MqttIngest, default_client_id, default_instance
from gateway.intake import Intake
from gateway.metrics import Metrics
from gateway.notify import Watchdog, notify
from gateway.roles import Roles
from gateway.sla import SlaWatch
from gateway.store.db import Database, safe_url

log = logging.getLogger("gateway")
#: exit status when a worker died and the clean stop hung (systemd restarts on any failure)
WORKER_DIED_EXIT = 70


class Gateway:
    """One gateway instance; ``start()`` returns once HTTP serves and MQTT
    is subscribed (or raises), ``stop()`` shuts everything down."""

    def __init__(self, cfg: SiteConfig, *, mqtt: bool = True, http: bool = True,
                 migrate: bool = True, web_only: bool = False, http_port: int | None = None) -> None:
        self.cfg = cfg
        self.web_only = web_only
        self.use_mqtt = mqtt and not web_only
        self.use_http = http
        self.http_port = cfg.gateway.http.port if http_port is None else http_port
        self.do_migrate = migrate
        self.instance = cfg.gateway.instance_id or f"{default_instance()}-{os.getpid()}"
        self.metrics = Metrics()
        self.wake = threading.Event()
        self.db: Database | None = None
        self.ingest: MqttIngest | None = None
        self.dispatcher: Dispatcher | None = None
        self.sla: SlaWatch | None = None
        self.app: Any = None
        self.fleet: Any = None  # gateway.fleet.FleetHost when gateway.fleet_config is set
        self.roles: Roles | None = None
        self.rollups: Any = None  # gateway.rollup_watch.RollupWatch when rollup_refresh_s > 0
        self.sms: Any = None  # gateway.sms.service.SmsService when the site config has `sms`
        self.flag_sync: Any = None  # gateway.flag_sync.FlagSync (panels' flagged numbers) with MQTT
        self.feed: EventFeed | None = None  # the other processes' console events (with MQTT or web_only)
        self._server: Any = None
        self._http_thread: threading.Thread | None = None

    # -- start/stop ----------------------------------------------------------
    def check_secrets(self) -> None:
        if self.cfg.mode is Mode.DEMO:
            return
        bad = self.cfg.insecure_secrets()
        if bad:
            raise InsecureConfig("Rahasia tidak aman / refusing to start with weak secrets "
                                 "(or set mode: demo):\n  " + "\n  ".join(bad))

    def build(self) -> None:
        """Create every part without starting threads (used by ``start``)."""
        from gateway.api.app import create_app

        self.check_secrets()
        # SQLite: WAL checkpoints on a thread of their own, not in the intake's commits
        self.db = Database(self.cfg.gateway.database_url, background_checkpoints=not self.web_only)
        log.info("Basis data / database: %s", safe_url(self.db.url))
        if self.do_migrate:
            self.db.migrate()
        intake: Any = Intake(self.db, self.cfg, self.metrics)
        if self.cfg.province is not None:  # the cities' bridged cases (gateway.province)
            from gateway.province import ProvinceIntake

            intake = ProvinceIntake(self.db, self.cfg, self.metrics)
        checks = {}
        if self.use_mqtt:
            self.ingest = MqttIngest(self.cfg, intake, self.metrics, instance=self.cfg.gateway.instance_id,
                                     on_commit=self.wake)
            checks["mqtt"] = self.ingest.subscribed.is_set
            from gateway.roles import lock_for

            db = self.db  # one survivor at a time takes a dead peer's session over (gateway.failover)
            self.ingest.peers.lock = lambda name: lock_for(db, name)
        checks["workers"] = self.alive
        if self.use_mqtt or self.web_only:
            client_id = self.ingest.client_id if self.ingest else default_client_id(self.instance) + "-web"
            self.feed = EventFeed(self.cfg.broker, client_id, self._remote_event)
            if self.web_only:
                checks["events"] = self.feed.subscribed.is_set
        if self.web_only:
            self._build_web(checks)
            return
        self.dispatcher = Dispatcher(self.db, self.cfg, self.metrics, instance=self.instance,
                                     mqtt_publish=self.ingest.publish if self.ingest else None)
        self.dispatcher.wake = self.wake
        self.sla = SlaWatch(self.db, self.cfg, self.metrics, on_escalation=self.wake,
                           instance=self.instance)
        if self.cfg.sms is not None:
            from gateway.sms.intake import SmsIntake
            from gateway.sms.opd import handle_reply
            from gateway.sms.service import SmsService

            self.sms = SmsService(self.cfg, SmsIntake(
                self.db, self.cfg, self.metrics, on_dispatch=self.wake.set,
                replies=lambda s, number, text: handle_reply(self.cfg, s, number, text),
                on_case=self._sms_case))
            self.dispatcher.sms_send = self.sms.send
        if self.ingest and self.cfg.province is None:  # a province's flags reach no panel
            from gateway.flag_sync import FlagSync

            ingest = self.ingest
            self.flag_sync = FlagSync(self.db, lambda t, p: ingest.publish(t, p, 5.0, retain=True),
                                      period_s=self.cfg.gateway.flag_sync_s)
        self.app = create_app(self.cfg, self.db, metrics=self.metrics, wake=self.wake,
                              ready_checks=checks)
        if self.ingest:
            self.ingest.events = self.app.state.gw.events
        if self.feed:
            self.app.state.gw.events.forward = self.feed.send
        if self.flag_sync:
            self.app.state.gw.flags_changed = self.flag_sync.wake
            if self.ingest:
                self.ingest.on_flagged = self.flag_sync.wake
        if self.cfg.gateway.fleet_config is not None:
            from gateway.fleet.host import FleetHost

            self.fleet = FleetHost(self.cfg.gateway.fleet_config, self.db)
            self.fleet.mount(self.app)
        # the SLA watch and the fleet watch run on one instance of the site
        self.roles = Roles(self.db, check_s=self.cfg.gateway.role_check_s)
        if self.cfg.province is None or self.cfg.province.dispatch:  # else the cities escalate
            self.roles.add("sla", self.sla.start, self.sla.stop)
        if self.fleet is not None:
            self.roles.add("fleet", self.fleet.start, self.fleet.stop_watch, once=True)
        if self.cfg.gateway.rollup_refresh_s > 0:
            from gateway.rollup_watch import RollupWatch

            self.rollups = RollupWatch(self.db, self.cfg.site.timezone, self.cfg.gateway.rollup_refresh_s)
            self.roles.add("rollups", self.rollups.start, self.rollups.stop)
        self.app.state.gw.roles = self.held_roles

    def _build_web(self, checks: dict[str, Any]) -> None:
        """The web process's parts: the app, whose dispatcher wake-ups and
        flag changes go to the intake process through the feed."""
        from gateway.api.app import create_app

        assert self.feed is not None and self.db is not None
        self.app = create_app(self.cfg, self.db, metrics=self.metrics, wake=_FeedSignal(self.feed, "wake"),
                              ready_checks=checks)
        self.app.state.gw.flags_changed = _FeedSignal(self.feed, "flags")
        self.app.state.gw.rollups_on_read = False  # the rollups role (intake process) refreshes
        self.app.state.gw.events.forward = self.feed.send
        self.app.state.gw.roles = self.held_roles
        if self.cfg.gateway.fleet_config is not None:  # the fleet pages and API; its watch runs elsewhere
            from gateway.fleet.host import FleetHost

            self.fleet = FleetHost(self.cfg.gateway.fleet_config, self.db)
            self.fleet.mount(self.app)

    def _remote_event(self, kind: str, data: dict[str, Any]) -> None:
        """Another process's event (paho's thread): its commit is visible
        here now, so shared lists are stale; its consoles' news is ours."""
        assert self.db is not None
        self.db.changed_elsewhere()
        if kind == "case":
            if self.app is not None:
                self.app.state.gw.events.deliver("case", **data)
            self.wake.set()  # an operator's choice there may have queued deliveries
        elif kind == "wake":
            self.wake.set()
        elif kind == "flags" and self.flag_sync is not None:
            self.flag_sync.wake()

    def _sms_case(self, out: Any) -> None:
        """A case an SMS stored or moved: to the consoles, as the MQTT ingest does."""
        if self.app is not None:
            self.app.state.gw.events.publish("case", case_no=out.case, new=out.result != "reply")

    def held_roles(self) -> list[str]:
        """What this instance runs now (``/readyz``)."""
        if self.web_only:
            return []
        shared = (["ingest"] if self.ingest else []) + ["dispatch"]
        return sorted(shared + (self.roles.held() if self.roles else []))

    def start(self, timeout: float = 20.0) -> Gateway:
        self.build()
        if self.feed:
            self.feed.start()
        if self.web_only:
            return self._start_web(timeout)
        assert self.dispatcher and self.sla
        if self.ingest:
            self.ingest.start()
        self.dispatcher.start()
        assert self.roles
        self.roles.start()
        if self.sms:
            self.sms.start()
        if self.flag_sync:
            self.flag_sync.start()
        if self.use_http:
            self._start_http(timeout)
        if self.ingest and not self.ingest.subscribed.wait(timeout):
            self.stop()
            raise TimeoutError("Broker tidak terjangkau / broker not reachable or subscription refused")
        if self.use_http:
            log.info("Gateway %s siap / ready at %s", self.instance, self.url)
        return self

    def _start_web(self, timeout: float) -> Gateway:
        assert self.feed is not None
        if self.use_http:
            self._start_http(timeout)
        if not self.feed.subscribed.wait(timeout):
            self.stop()
            raise TimeoutError("Broker tidak terjangkau / broker not reachable (event feed)")
        log.info("Gateway web %s siap / ready (pages and API only)", self.instance)
        return self

    def _http_config(self):
        import uvicorn

        h = self.cfg.gateway.http
        return uvicorn.Config(self.app, host=h.host, port=self.http_port, log_level="warning",
                              lifespan="off", access_log=False)

    def _start_http(self, timeout: float) -> None:
        import uvicorn

        self._server = uvicorn.Server(self._http_config())
        self._http_thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._http_thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._http_thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("HTTP server did not start (port in use?)")
            time.sleep(0.02)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.servers:
            return self.http_port
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.cfg.gateway.http.host}:{self.port}"

    def alive(self) -> bool:
        """Every worker thread still runs (``/readyz``, the systemd watchdog,
        and :func:`run`, which exits when one has died)."""
        sla = self.roles is not None and "sla" in self.roles.held()
        threads = [*getattr(self.ingest, "workers", []), getattr(self.dispatcher, "_thread", None),
                   getattr(self.sla, "_thread", None) if sla else None]
        return all(t is None or t.is_alive() for t in threads)

    def started_workers(self) -> bool:
        return (bool(getattr(self.ingest, "workers", None))
                or getattr(self.dispatcher, "_thread", None) is not None)

    def stop(self) -> None:
        if self._server is not None:
            self.app.state.gw.events.close()  # open consoles' streams end: the server can stop
            self._server.should_exit = True
            if self._http_thread:
                self._http_thread.join(10)
        if self.ingest:
            self.ingest.stop()
        if self.feed:
            self.feed.stop()
        if self.roles:
            self.roles.stop()  # stops the SLA and fleet watches it runs, frees the roles
        if self.sms:
            self.sms.stop()
        if self.flag_sync:
            self.flag_sync.stop()
        if self.fleet:
            self.fleet.stop()
            self.fleet = None
        if self.dispatcher:
            self.dispatcher.stop()
        if self.db:
            self.db.dispose()

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class _FeedSignal(threading.Event):
    """An Event whose ``set()`` also tells the other processes (``kind``
    through the feed): what the API sets for the dispatcher or the flag sync
    reaches the process that runs them."""

    def __init__(self, feed: EventFeed, kind: str) -> None:
        super().__init__()
        self.feed = feed
        self.kind = kind

    def set(self) -> None:
        super().set()
        self.feed.send(self.kind, {})


def _notify_when_serving(server: Any, watchdog: Watchdog) -> None:
    deadline = time.monotonic() + 60
    while not server.started and not server.should_exit and time.monotonic() < deadline:
        time.sleep(0.05)
    if server.started:
        notify("READY=1")
        watchdog.start()


def _exit_when_a_worker_dies(gw: Gateway, server: Any, died: threading.Event) -> None:
    """A dead worker must not hide behind a live HTTP server: stop serving,
    so :func:`run` raises WorkerDied and systemd restarts the process."""
    while not server.should_exit:
        if gw.started_workers() and not gw.alive():
            log.critical("Pekerja mati / a worker thread died: stopping so systemd restarts the gateway")
            died.set()
            server.should_exit = True
            gw.app.state.gw.events.close()
            # a wedged shutdown must not keep a dead gateway up
            threading.Timer(60, os._exit, args=(WORKER_DIED_EXIT,)).start()
            return
        time.sleep(0.5)


def run(cfg: SiteConfig, *, web_only: bool = False, http_port: int | None = None) -> None:
    """Run in the foreground until SIGINT/SIGTERM, then stop every part
    cleanly and return (uvicorn's own handlers would re-raise the signal and
    kill the process before the ingest and dispatcher are stopped). Raises
    WorkerDied when a worker thread died (the CLI exits non-zero).
    ``web_only``: pages and API only (see the module's docstring);
    ``http_port``: instead of ``gateway.http.port`` (default for the gateway
    process: ``gateway.http.intake_port`` when the site runs a web process)."""
    import contextlib
    import signal

    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            yield

    if http_port is None and not web_only:  # a web process serves gateway.http.port
        http_port = cfg.gateway.http.intake_port
    gw = Gateway(cfg, http=False, web_only=web_only, http_port=http_port)
    gw.start()
    # what start-up built (modules, app, config) lives as long as the process:
    # out of the collector's way, so a full collection scans only what came
    # later instead of pausing every thread, the intake's too, for ~0.1 s.
    # (Here, not in Gateway.start: a test process starts and drops hundreds.)
    gc.freeze()
    server = _Server(gw._http_config())
    gw._server = server

    def _exit(signum: int, _frame: object) -> None:
        log.info("Berhenti / stopping on signal %d", signum)
        server.should_exit = True
        # open consoles' streams end so the server's graceful stop does not wait
        # for them; from a thread: the handler may interrupt the loop holding the lock
        threading.Thread(target=gw.app.state.gw.events.close, daemon=True).start()

    previous = {sig: signal.signal(sig, _exit) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("Gateway %s siap / ready; HTTP on %s:%d", gw.instance, cfg.gateway.http.host, gw.http_port)
    watchdog = Watchdog(gw.alive)
    ready = threading.Thread(target=_notify_when_serving, args=(server, watchdog), daemon=True)
    ready.start()
    died = threading.Event()
    threading.Thread(target=_exit_when_a_worker_dies, args=(gw, server, died), name="worker-watch",
                     daemon=True).start()
    try:
        server.run()
    finally:
        watchdog.stop()
        notify("STOPPING=1")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        gw._server = None
        gw.stop()
        log.info("Gateway berhenti / stopped")
    if died.is_set():
        raise WorkerDied("Pekerja mati / a worker thread died; see the log above")

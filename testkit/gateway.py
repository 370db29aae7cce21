"""Helpers for the gateway tests: a real HTTP server standing in for an OPD,
site configs pointing at the test broker, polling waits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from gateway.config import parse_config
from gateway.config.models import SiteConfig
from gateway.store.db import Database
from protocol.reports import Incident, Source
from testkit.wait import wait_for

WEBHOOK_SECRET = "opd-webhook-secret-for-tests-0123456789"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs under a burst: 1 s retransmits
    daemon_threads = True


class OpdServer:
    """A real HTTP server recording every POST; ``status`` sets the reply,
    ``stop()``/``start()`` take it off and back on the same port."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        #: when set, every request waits until it is set (a hanging OPD server)
        self.hold: threading.Event | None = None
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer._lock:
                    outer.hits.append(Hit(self.path, {k: v for k, v in self.headers.items()}, body,
                                          time.time()))
                if outer.hold is not None:
                    outer.hold.wait(30)
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        return H

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), self._handler())  # reuses the port
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(h.body) for h in self.hits]


def site_config(tmp_path: Path, broker: Any, **kw: Any) -> SiteConfig:
    """A site with damkar, dinkes, bpbd, polres; ``hooks`` maps OPD -> webhook URL
    (CAP XML bodies for the OPDs in ``cap_hooks``); ``opd_extra`` adds YAML
    lines to an OPD (e.g. its escalation ladder)."""
    return parse_config(site_yaml(tmp_path, broker, **kw), filename="test-site.yaml")


def site_yaml(tmp_path: Path, broker: Any, *, hooks: dict[str, str] | None = None,
              extra: str = "", mode: str = "demo", username: str | None = None,
              password: str | None = None, sla: str = "", port: int = 0,
              instance: str = "gw-test", db_url: str | None = None, fire_opds: str = "damkar",
              opd_extra: dict[str, str] | None = None, cap_hooks: tuple[str, ...] = (),
              auto_sources: str = "field_button, panel_call",
              dispatch: str = "max_attempts: 3, backoff_initial_s: 0.2, backoff_max_s: 0.5, poll_s: 0.1",
              quick_checks: bool = True) -> str:
    """The text of :func:`site_config`'s site file (for ``siaga gateway`` processes).
    ``quick_checks``: SLA timers and roles checked every 0.2 s (tests wait for
    them); False keeps the shipped periods (benchmarks)."""
    hooks = hooks or {}
    opd_extra = opd_extra or {}
    db_url = db_url or f"sqlite:///{tmp_path / 'gateway.db'}"

    def opd(oid: str, name: str) -> str:
        lines = [f"  - id: {oid}", f"    name: {name}", "    channels:"]
        if oid in hooks:
            fmt = ", format: cap" if oid in cap_hooks else ""
            lines.append(f"      webhook: {{url: '{hooks[oid]}', secret: {{value: '{WEBHOOK_SECRET}'}},"
                         f" timeout_s: 2{fmt}}}")
        lines.append("      mqtt_terminal: false")
        if oid in opd_extra:
            lines.append(opd_extra[oid])
        return "\n".join(lines)

    creds = f"\n  username: {username}\n  password: {password}" if username else ""
    text = f"""
mode: {mode}
site: {{name: Kota Uji, case_prefix: MDN}}
broker:
  host: {broker.host}
  port: {broker.port}{creds}
gateway:
  database_url: "{db_url}"
  instance_id: {instance}
  http: {{host: 127.0.0.1, port: {port}}}
  dispatch: {{{dispatch}}}
{"  sla_check_s: 0.2" if quick_checks else ""}
{"  role_check_s: 0.2" if quick_checks else ""}
opds:
{opd("damkar", "Dinas Pemadam Kebakaran")}
{opd("dinkes", "Dinas Kesehatan / PSC 119")}
{opd("bpbd", "BPBD")}
{opd("polres", "Polres")}
routing:
  police_opd: polres
  rules:
    - {{categories: [fire], opds: [{fire_opds}]}}
    - {{categories: [flood], areas: [Taman], opds: [bpbd]}}
  auto_dispatch:
    - {{categories: [fire, medical, flood, crime], sources: [{auto_sources}]}}
  sla:
{sla or "    fire: {ack_min: 5, resolve_min: 60}"}
{extra}
"""
    return text


def central_yaml(tmp_path: Path, broker: Any) -> Path:
    """A central.yaml for ``gateway.fleet_config`` sharing the test gateway's SQLite file."""
    import yaml

    path = tmp_path / "central.yaml"
    path.write_text(yaml.safe_dump({
        "site_dir": str(tmp_path / "site"),
        "bundle_dir": str(tmp_path / "bundles"),
        "gateway_db_url": f"sqlite:///{tmp_path / 'gateway.db'}",
        "broker": {"host": broker.host, "port": broker.port},
        "health": {"heartbeat_default_s": 5},
    }))
    return path


def fleet_row(api: httpx.Client, device: str) -> dict[str, Any] | None:
    """The device's row in ``/api/devices`` (None while absent)."""
    return next((r for r in api.get("/api/devices").json() if r["id"] == device), None)


def fleet_watch_sees(broker: Any, admin: httpx.Client, device: str,
                     between: Callable[[], None] | None = None) -> None:
    """A unit announces itself online, then its will fires: the fleet watch
    must show it online, then offline with an ``offline`` fault episode."""
    from protocol.codec import encode
    from protocol.fleet import Status
    from protocol.topics import device_topic
    from testkit.mqtt import TestClient

    unit = TestClient(broker, device).start()
    unit.publish(device_topic(device, "status"),
                 encode(Status(device=device, state="online", profile="field")), retain=True)
    assert wait_for(lambda: (r := fleet_row(admin, device)) and r["online"])
    if between:
        between()
    unit.publish(device_topic(device, "status"),
                 encode(Status(device=device, state="offline", reason="will")), retain=True)
    assert wait_for(lambda: (r := fleet_row(admin, device)) and not r["online"] and "offline" in r["faults"])
    unit.stop()


def register(db: Database, *devices: str, profile: str = "field", area: str | None = None) -> None:
    from gateway.store import devices as reg

    with db.session() as s:
        for d in devices:
            reg.add(s, d, profile=profile, area=area, label=f"Kotak {d}")


def incident(device: str, seq: int = 1, category: str = "fire",
             source: Source = Source.FIELD_BUTTON, **kw: Any) -> Incident:
    return Incident(device=device, seq=seq, category=category, source=source, **kw)


def api_client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=10)


def make_user(db: Database, username: str, role: str, opd: str | None = None) -> str:
    """Create a user and return a bearer token for it."""
    from gateway import auth

    with db.session() as s:
        u = auth.create_user(s, username, "password-" + username, role, opd=opd)
        return auth.create_token(s, u, "test")


def provisioner(gw: Any) -> Any:
    """`siaga admin`'s provisioner over a running gateway's own database (the
    same code as the CLI: registry row, credentials, bundle)."""
    from central.context import Central
    from central.settings import load_settings

    return Central(load_settings(gw.cfg.gateway.fleet_config), gw.db, actor="test").prov

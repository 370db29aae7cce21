"""The demo's control page: a visitor presses any box's or panel's buttons,
rings the panel from a number of their choice, sends an SMS from a simulated
phone, cuts a unit's IP link or GSM coverage, breaks a part for the
self-test, and watches the LEDs and the cases move (issue 17 item 7).

Demo mode only: served by the demo process on loopback, beside the gateway,
on its own small HTTP server (no login: it drives simulators, never a real
unit). The page (``static/control.html``) polls ``/api/state`` and posts one
small JSON action per click; every action is one line to a unit's test-only
control socket, the simulated GSM network or a cuttable IP link. Bad input
gets a 400 with the reason, is counted, and logged.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware.sim.ipcut import CuttableProxy
from protocol.categories import CATALOGUE, Category
from siaga.demo.units import FIELD_BOXES

if TYPE_CHECKING:  # pragma: no cover
    from siaga.demo.run import Demo
    from siaga.demo.units import SimUnit

log = logging.getLogger("siaga.demo.control")

STATIC = Path(__file__).parent / "static"
PANEL_NUMBER = "112"
#: parts a visitor may break: board-model outputs (field box) and the modem's audio path
MODEM_PARTS = ("speaker", "mic")


class BadRequest(ValueError):
    """A control request that cannot be carried out (the reason goes back to the page)."""


class IpLinks:
    """One cuttable TCP link per unit between it and the broker: cutting it
    takes only that unit off IP, as a dead uplink in the street would."""

    def __init__(self, broker_host: str, broker_port: int) -> None:
        self.broker = (broker_host, broker_port)
        self.links: dict[str, CuttableProxy] = {}

    def port_for(self, device: str) -> int:
        if device not in self.links:
            self.links[device] = CuttableProxy(*self.broker)
        return self.links[device].port

    def set_cut(self, device: str, cut: bool) -> None:
        if device not in self.links:
            raise BadRequest(f"unit tanpa tautan / no link for unit {device}")
        self.links[device].set_cut(cut)

    def is_cut(self, device: str) -> bool:
        link = self.links.get(device)
        return bool(link and link.cut.is_set())

    def close(self) -> None:
        for link in self.links.values():
            link.close()


@dataclass
class UnitView:
    """The last state a unit's control socket reported, refreshed by a poller."""

    unit: SimUnit
    state: dict[str, Any] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)  # parts a visitor broke
    selftest: dict[str, Any] | None = None


class DemoControl:
    def __init__(self, demo: Demo, links: IpLinks | None, *, centre_sms: str, port: int = 0,
                 host: str = "127.0.0.1") -> None:
        self.demo = demo
        self.links = links
        self.centre_sms = centre_sms
        self.places = {b[0]: f"{b[1]}, {b[2]}" for b in FIELD_BOXES}
        self.views = {u.device_id: UnitView(u) for u in demo.units}
        self.counters: collections.Counter[str] = collections.Counter()
        self.actions: collections.deque[dict[str, str]] = collections.deque(maxlen=30)
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        addr = self._server.server_address
        self.host, self.port = str(addr[0]), int(addr[1])
        serve = threading.Thread(target=self._server.serve_forever, name="demo-control", daemon=True)
        self._threads = [serve]
        self._threads += [threading.Thread(target=self._poll, args=(v,), name=f"poll-{d}", daemon=True)
                          for d, v in self.views.items()]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> DemoControl:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _poll(self, view: UnitView) -> None:
        while not self._stop.wait(0.5):
            try:
                view.state = json.loads(view.unit.send("state", timeout=10))
            except (OSError, ValueError):
                view.state = {}

    # -- reading -------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        net = self.demo.net_host.network if self.demo.net_host else None
        links = self.links
        units = []
        for device, view in self.views.items():
            u = view.unit
            number = u.modem.number
            units.append({
                "id": device, "profile": u.profile, "number": number,
                "place": self.places.get(device, "Pusat panggilan / call centre"),
                "leds": view.state.get("leds", {}), "connected": view.state.get("connected"),
                "outbox": view.state.get("outbox_depth"), "faults": view.state.get("faults", []),
                "ip_cut": links.is_cut(device) if links else False,
                "coverage": net.covered(number) if net is not None and number else None,
                "ringing": u.modem.call_state == "ringing", "call": str(u.modem.call_state),
                "other_party": u.modem.call_number,
                "broken": sorted(view.broken), "selftest": view.selftest,
            })
        gw = self.demo.gateway
        return {"units": units, "cases": self.cases(), "actions": list(self.actions),
                "gateway_url": gw.url if gw is not None else None,
                "centre_sms": self.centre_sms,
                "centre_coverage": net.covered(self.centre_sms) if net is not None else None,
                "sms_log": (net.log[-8:] if net is not None else [])}

    def cases(self, limit: int = 12) -> list[dict[str, Any]]:
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from gateway.store.models import Incident

        gw = self.demo.gateway
        if gw is None:
            return []
        with gw.db.session() as s:
            rows = s.scalars(select(Incident).options(selectinload(Incident.assignments))
                             .order_by(Incident.received_at.desc()).limit(limit)).all()
            return [{
                "id": i.id, "case_no": i.case_no or i.id[-6:], "source": i.source, "device": i.device_id,
                "caller": i.caller, "category": _category(i.category), "status": i.status,
                "place": i.location_label or i.area or "", "received_at": i.received_at.isoformat(),
                "opds": [{"opd": a.opd, "status": _part_status(a)} for a in i.assignments],
            } for i in rows]

    # -- acting --------------------------------------------------------------
    def act(self, action: str, body: dict[str, Any]) -> str:
        """Run one action; returns the line to show. Raises BadRequest."""
        handler = getattr(self, f"_do_{action}", None)
        if handler is None:
            raise BadRequest(f"aksi tidak dikenal / unknown action {action!r}")
        reply = str(handler(body))
        self.actions.appendleft({"action": action, "reply": reply[:200]})
        log.info("Kendali demo / demo control: %s %s -> %s", action, body, reply)
        return reply

    def _unit(self, body: dict[str, Any]) -> SimUnit:
        view = self.views.get(str(body.get("device", "")))
        if view is None:
            raise BadRequest(f"unit tidak dikenal / unknown unit {body.get('device')!r}")
        return view.unit

    def _do_press(self, body: dict[str, Any]) -> str:
        unit = self._unit(body)
        button = str(body.get("button", ""))
        if not button.replace("_", "").isalnum():
            raise BadRequest("tombol tidak sah / bad button name")
        hold = " 0.2" if unit.profile == "field" else ""  # a box wants a deliberate press
        reply = unit.send(f"press {button}{hold}")
        if reply.startswith("error"):
            raise BadRequest(reply)
        return f"{unit.device_id}: {button} -> {reply}"

    def _do_ip(self, body: dict[str, Any]) -> str:
        unit = self._unit(body)
        if self.links is None:
            raise BadRequest("tautan IP tidak tersedia / no IP links")
        cut = bool(body.get("cut"))
        self.links.set_cut(unit.device_id, cut)
        return f"{unit.device_id}: IP {'diputus / cut' if cut else 'tersambung / restored'}"

    def _do_coverage(self, body: dict[str, Any]) -> str:
        """A unit's modem (``device``) or the centre's SMS modem (``centre: true``)."""
        if body.get("centre"):
            number, who = self.centre_sms, "modem pusat / centre modem"
        else:
            unit = self._unit(body)
            number, who = unit.modem.number or "", unit.device_id
        if self.demo.net_host is None or not number:
            raise BadRequest("tidak di jaringan GSM / not on the GSM network")
        on = bool(body.get("on"))
        self.demo.net_host.network.set_coverage(number, on)
        return f"{who}: GSM {'ada sinyal / coverage on' if on else 'tanpa sinyal / no coverage'}"

    def _do_ring(self, body: dict[str, Any]) -> str:
        number = str(body.get("from", "")).strip()
        return self._net(f"call {_number(number)} {PANEL_NUMBER}", f"{number} menelepon / calls 112")

    def _do_sms(self, body: dict[str, Any]) -> str:
        frm, to = _number(str(body.get("from", ""))), _number(str(body.get("to") or self.centre_sms))
        text = " ".join(str(body.get("text", "")).split())
        if not text or len(text) > 300:
            raise BadRequest("teks SMS 1-300 karakter / SMS text 1-300 characters")
        return self._net(f"sms {frm} {to} {text}", f"SMS {frm} -> {to}")

    def _net(self, line: str, said: str) -> str:
        if self.demo.net_host is None:
            raise BadRequest("tanpa jaringan GSM / no GSM network")
        reply = self.demo.net_host.run(line)
        if not reply.startswith("ok"):
            raise BadRequest(reply)
        return said

    def _do_part(self, body: dict[str, Any]) -> str:
        unit = self._unit(body)
        part, dead = str(body.get("part", "")), bool(body.get("dead"))
        if part in MODEM_PARTS:
            setattr(unit.modem, f"{part}_ok", not dead)
        else:
            reply = unit.send(f"part {part} {'dead' if dead else 'ok'}")
            if reply != "ok":
                raise BadRequest(reply)
        broken = self.views[unit.device_id].broken
        (broken.add if dead else broken.discard)(part)
        return f"{unit.device_id}: {part} {'rusak / broken' if dead else 'baik / mended'}"

    def _do_selftest(self, body: dict[str, Any]) -> str:
        unit = self._unit(body)
        reply = unit.send("selftest", timeout=60)
        try:
            result = json.loads(reply)
        except ValueError:
            raise BadRequest(reply) from None
        self.views[unit.device_id].selftest = result
        return (f"{unit.device_id}: uji mandiri / self-test "
                + ("lulus / passed" if result["ok"] else "GAGAL / FAILED: " + ", ".join(result["failed"])))


def _number(text: str) -> str:
    t = text.strip()
    if not (t.lstrip("+").isdigit() and 3 <= len(t) <= 16):
        raise BadRequest(f"nomor tidak sah / bad phone number {text!r}")
    return t


def _category(code: str) -> str:
    with contextlib.suppress(ValueError):
        return CATALOGUE[Category(code)].label_id
    return code


def _part_status(a: Any) -> str:
    for when, word in ((a.resolved_at, "resolved"), (a.on_scene_at, "on_scene"),
                       (a.acknowledged_at, "acknowledged")):
        if when is not None:
            return word
    return "dispatched"


def _handler(control: DemoControl) -> type[BaseHTTPRequestHandler]:
    files = {"/": ("control.html", "text/html; charset=utf-8"),
             "/control.js": ("control.js", "text/javascript; charset=utf-8"),
             "/control.css": ("control.css", "text/css; charset=utf-8")}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: Any) -> None:  # the demo's own log says what matters
            log.debug(fmt, *args)

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj, default=str).encode())

        def do_GET(self) -> None:
            if self.path in files:
                name, ctype = files[self.path]
                return self._send(200, (STATIC / name).read_bytes(), ctype)
            if self.path == "/api/state":
                return self._json(200, control.state())
            self._json(404, {"error": "tidak ada / not found"})

        def do_POST(self) -> None:
            if not self.path.startswith("/api/act/"):
                return self._json(404, {"error": "tidak ada / not found"})
            action = self.path.removeprefix("/api/act/")
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > 4096:
                    raise BadRequest("permintaan terlalu besar / request too large")
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise BadRequest("JSON objek diperlukan / a JSON object is required")
                reply = control.act(action, body)
            except (BadRequest, ValueError, OSError) as exc:
                control.counters["refused"] += 1
                log.warning("Kendali demo menolak / demo control refused %s: %s", action, exc)
                return self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            self._json(200, {"ok": True, "reply": reply})

    return Handler

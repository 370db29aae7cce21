"""Stand-in OPD systems for the demo: real HTTP servers that receive the
gateway's signed webhooks, check the signature, and answer through the
gateway's OPD callback API after a delay typical of that agency.

Each OPD gets its own pace (fast Damkar, slow Dinas PU...) so the KPI
dashboard shows what the mayor wants to see: who is fast and who is slow.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from gateway.dispatch import signing
from protocol.ids import new_id

log = logging.getLogger("siaga.demo.opd")


@dataclass
class OpdPace:
    """Seconds (demo time) an OPD takes to acknowledge and to resolve."""

    ack_s: tuple[float, float]
    resolve_s: tuple[float, float]
    down: bool = False  # answer 503, to show retries and dead letters


@dataclass
class OpdSimulator:
    """One HTTP server serving ``POST /opd/{opd}/webhook`` for every OPD."""

    gateway_url: str
    secrets: dict[str, str]
    paces: dict[str, OpdPace]
    received: list[dict] = field(default_factory=list)
    refused: int = 0
    _server: ThreadingHTTPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: object) -> None:  # quiet access log
                log.debug(fmt, *args)

            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(parts) != 3 or parts[0] != "opd" or parts[2] != "webhook":
                    self.send_error(404)
                    return
                opd = parts[1]
                pace = sim.paces.get(opd)
                if pace is None or opd not in sim.secrets:
                    self.send_error(404)
                    return
                if pace.down:
                    self.send_error(503, "OPD system down (demo)")
                    return
                # Standard Webhooks: webhook-id / webhook-timestamp / webhook-signature
                headers = {k.lower(): v for k, v in self.headers.items()}
                why = signing.verify_webhook(sim.secrets[opd], headers, body)
                if why:
                    sim.refused += 1
                    log.warning("OPD %s refused a webhook: %s", opd, why)
                    self.send_error(401, why)
                    return
                self.send_response(202)
                self.end_headers()
                sim._accepted(opd, json.loads(body))

        self._server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self._server.serve_forever, name="opd-sim", daemon=True).start()
        return int(self._server.server_address[1])

    def webhook_url(self, opd: str) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/opd/{opd}/webhook"

    def _accepted(self, opd: str, dispatch: dict) -> None:
        self.received.append(dispatch)
        incident = dispatch.get("incident_id")
        log.info("OPD %s menerima / received case %s", opd, dispatch.get("case"))
        if incident:
            threading.Thread(target=self._respond, args=(opd, incident), daemon=True).start()

    def _respond(self, opd: str, incident: str) -> None:
        pace = self.paces[opd]
        for step, (lo, hi) in (("acknowledged", pace.ack_s), ("resolved", pace.resolve_s)):
            if self._stop.wait(random.uniform(lo, hi)):
                return
            self._callback(opd, incident, step)

    def _callback(self, opd: str, incident: str, step: str) -> None:
        data = {"note": f"demo {opd}: {step}"}
        if step == "acknowledged":  # name who handles it, as a real duty officer does
            data |= {"responder": f"Regu {random.randint(1, 4)} {opd}", "responder_kind": "team"}
        body = json.dumps(data).encode()
        url = f"{self.gateway_url}/api/callbacks/{opd}/incidents/{incident}/{step}"
        hdrs = signing.webhook_headers(self.secrets[opd], new_id(), body) | {
            "content-type": "application/json"}
        for attempt in range(5):
            if self._stop.is_set():
                return
            try:
                r = httpx.post(url, content=body, headers=hdrs, timeout=5)
                if r.status_code < 500:
                    if r.status_code >= 400:
                        log.info("callback %s %s -> %s %s", opd, step, r.status_code, r.text[:200])
                    return
            except httpx.HTTPError as exc:
                log.info("callback %s %s failed: %s", opd, step, exc)
            self._stop.wait(1 + attempt)

    def stop(self) -> None:
        self._stop.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

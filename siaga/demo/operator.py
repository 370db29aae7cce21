"""The demo's call-centre operator: triages what arrives and dispatches it
through the REST API, as a person at the staff console would (prank and
test calls are rejected, everything else goes to the OPDs the rules pick)."""

from __future__ import annotations

import logging
import threading

import httpx

log = logging.getLogger("siaga.demo.operator")


class OperatorDesk:
    def __init__(self, base_url: str, username: str, password: str, *, think_s: float = 3.0) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self.think_s = think_s
        self.handled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-operator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            r = http.post("/api/auth/login", json={"username": self.username, "password": self.password})
            if r.status_code != 200:
                log.warning("operator login failed: %s %s", r.status_code, r.text[:200])
                return
            while not self._stop.wait(self.think_s):
                try:
                    self._triage(http)
                except httpx.HTTPError as exc:
                    log.info("operator: %s", exc)

    def _triage(self, http: httpx.Client) -> None:
        page = http.get("/api/incidents", params={"status": "received", "limit": 20}).json()
        for inc in page.get("items", []):
            ref = inc["id"]
            if inc["category"] in ("prank", "test"):
                steps = [{"to": "rejected", "reason": inc["category"], "note": "demo operator"}]
            else:
                steps = [{"to": "triaged", "note": "demo operator"}, {"to": "dispatched"}]
            for step in steps:
                r = http.post(f"/api/incidents/{ref}/transitions", json=step)
                if r.status_code >= 400:
                    log.info("operator %s -> %s: %s %s", inc.get("case_no"), step["to"], r.status_code,
                             r.text[:200])
                    break
            else:
                self.handled += 1
                log.info("Operator menangani / handled %s (%s) -> %s", inc.get("case_no"),
                         inc["category"], steps[-1]["to"])

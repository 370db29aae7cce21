"""The demo's simulated call-centre operator: triages what the scenario's
units report and dispatches it through the REST API, as a person at the
staff console would, under an account of its own.

Why only the scenario's cases: a person trying the console next to it types
reports of their own (source ``operator``) or rings the panel from the demo
control page; those are theirs to triage, and the audit trail must never
credit the simulation's work to that person.
Information and test calls (the panel has no key for them) are typed here
from what the caller said (:meth:`Scenario.said`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx

log = logging.getLogger("siaga.demo.operator")

Said = Callable[[str | None], str | None]
Placed = Callable[[str | None], bool]


class OperatorDesk:
    def __init__(self, base_url: str, username: str, password: str, *, think_s: float = 3.0,
                 said: Said | None = None, placed: Placed | None = None) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self.think_s = think_s
        self.said: Said = said or (lambda _number: None)
        #: a panel call the scenario placed (a visitor's own call from the control page is theirs)
        self.placed: Placed = placed or (lambda _number: True)
        self.handled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-operator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def login(self, http: httpx.Client) -> bool:
        r = http.post("/api/auth/login", json={"username": self.username, "password": self.password})
        if r.status_code != 200:
            log.warning("operator login failed: %s %s", r.status_code, r.text[:200])
        return r.status_code == 200

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            if not self.login(http):
                return
            while not self._stop.wait(self.think_s):
                try:
                    self.triage(http)
                except httpx.HTTPError as exc:
                    log.info("operator: %s", exc)

    def triage(self, http: httpx.Client) -> None:
        """One look at the queue: every scenario case waiting for an operator."""
        waiting = []
        for status in ("received", "triaged"):
            page = http.get("/api/incidents", params={"status": status, "limit": 50}).json()
            waiting += page.get("items", [])
        for inc in sorted(waiting, key=lambda i: i["received_at"]):
            if inc["source"] == "operator" or (inc["source"] == "panel_call"
                                               and not self.placed(inc.get("caller"))):
                continue  # a person's typed report or own call: theirs
            if inc["status"] == "triaged" and "handoff" not in inc["allowed_actions"]:
                continue  # dispatched by the rules or by someone else meanwhile
            if self._handle(http, inc):
                self.handled += 1

    def _handle(self, http: httpx.Client, inc: dict) -> bool:
        ref = inc["id"]
        said = self.said(inc.get("caller")) if inc["category"] == "other" else None
        steps: list[tuple[str, dict]] = []
        if said == "test":
            steps = [("call-type", {"call_type": "test", "note": "uji coba / test call"})]
        elif said == "information":
            steps = [("call-type", {"call_type": "information"}),
                     ("handoff", {"note": "informasi diberikan lewat telepon / information given"})]
        elif "handoff" in inc["allowed_actions"]:
            steps = [("handoff", {"to": (inc["handoff_to"] or [None])[0],
                                  "note": "diteruskan lewat telepon (simulasi) / phoned through"})]
        elif inc["status"] == "received" and inc["suggested_opds"]:
            steps = [("transitions", {"to": "triaged", "note": "demo operator"}),
                     ("transitions", {"to": "dispatched", "opds": inc["suggested_opds"]})]
        for path, body in steps:
            r = http.post(f"/api/incidents/{ref}/{path}", json=body)
            if r.status_code >= 400:
                log.info("operator %s %s: %s %s", inc.get("case_no"), path, r.status_code, r.text[:200])
                return False
        if steps:
            log.info("Operator menangani / handled %s (%s%s) -> %s", inc.get("case_no"), inc["category"],
                     f", {said}" if said else "", steps[-1][0])
        return bool(steps)

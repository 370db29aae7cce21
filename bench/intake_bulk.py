"""Intake alone (no MQTT): ms per incident of the group commit, with the
cases service writing statuses, audit rows, assignments and outbox rows.

    .venv/bin/python bench/intake_bulk.py --n 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gateway.config import parse_config
from gateway.intake import Intake, Message
from gateway.metrics import Metrics
from gateway.store import devices
from gateway.store.db import Database
from protocol.codec import encode
from protocol.reports import Incident, Source
from protocol.topics import DeviceTopic, device_topic

SITE = """
mode: demo
site: {{name: Bench, case_prefix: BEN}}
gateway: {{database_url: "sqlite:///{db}"}}
opds:
  - {{id: damkar, name: Damkar, channels: {{webhook: {{url: "http://127.0.0.1:9/x", secret: {{value: s}}}}}}}}
  - {{id: dinkes, name: PSC, channels: {{webhook: {{url: "http://127.0.0.1:9/y", secret: {{value: s}}}}}}}}
routing:
  rules: [{{categories: [fire], opds: [damkar, dinkes]}}]
  auto_dispatch: [{{categories: [fire], sources: [field_button]}}]
"""


def run(n: int, batch: int, category: str) -> float:
    with tempfile.TemporaryDirectory() as d:
        cfg = parse_config(SITE.format(db=Path(d) / "b.db"), filename="bench.yaml")
        db = Database(cfg.gateway.database_url)
        db.migrate()
        with db.session() as s:
            devices.add(s, "box-1", profile="field")
        intake = Intake(db, cfg, Metrics())
        msgs = [Message(device_topic("box-1", DeviceTopic.INCIDENT),
                        encode(Incident(device="box-1", seq=i + 1, category=category,
                                        source=Source.FIELD_BUTTON))) for i in range(n)]
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            intake.process(msgs[i:i + batch])
        dt = time.perf_counter() - t0
        db.dispose()
        return dt * 1000 / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=500)
    a = ap.parse_args()
    for cat, what in (("other", "stored, waits for an operator"),
                      ("fire", "auto-dispatched to 2 OPDs (2 assignments, 2 outbox rows)")):
        print(f"{what}: {run(a.n, a.batch, cat):.3f} ms per incident ({a.n} in batches of {a.batch})")


if __name__ == "__main__":
    main()

"""The fleet wing on the gateway's database (SQLite file): the fleet table of
N units (what GET /api/devices and `siaga admin devices` build), one health
poll that applies N changed heartbeats, and the lateness tick over N online
units. Prints milliseconds; asserts nothing.

    .venv/bin/python bench/fleet_table.py --n 500
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from gateway.clock import utcnow
from gateway.fleet.context import Fleet
from gateway.fleet.settings import FleetSettings
from gateway.store import devices
from gateway.store.db import Database
from gateway.store.models import Device
from protocol.fleet import Telemetry


def _ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        gdb = Database(f"sqlite:///{Path(d) / 'gw.db'}")
        gdb.migrate()
        fleet = Fleet(FleetSettings(), gdb)
        ids = [f"box-{i:04d}" for i in range(n)]
        with gdb.session() as s:
            for i in ids:
                devices.add(s, i, profile="field", label=f"Jl. {i}", area="Taman")
        for k, i in enumerate(ids):
            fleet.groups.set_groups(i, ["taman"])
            if k % 10 == 0:
                fleet.health.open_fault(i, "weak_signal", "-110 dBm")

        def beat(depth: int) -> None:  # what the ingest writes for one heartbeat of every unit
            now = utcnow()
            with gdb.session() as s:
                for dev in s.query(Device):
                    dev.online, dev.last_seen, dev.telemetry_at = True, now, now
                    dev.last_telemetry = Telemetry(device=dev.id, seq=depth, outbox_depth=depth,
                                                   signal_dbm=-80).model_dump(mode="json", exclude_none=True)

        beat(0)
        fleet.health.poll()
        table = _ms(fleet.device_rows)
        polls = []
        for depth in range(1, 4):
            beat(depth)
            t = time.perf_counter()
            applied = fleet.health.poll()
            polls.append((time.perf_counter() - t) * 1000)
            assert applied["telemetry"] == n
        tick = _ms(lambda: fleet.health.tick(utcnow() - timedelta(seconds=1)))
        gdb.dispose()
    print(f"fleet table of {n} units (GET /api/devices rows): {table:.1f} ms")
    print(f"health poll applying {n} changed heartbeats: {statistics.median(polls):.1f} ms "
          f"({statistics.median(polls) / n * 1000:.0f} µs a heartbeat)")
    print(f"lateness tick over {n} online units: {tick:.1f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=500)
    logging.basicConfig(level=logging.ERROR)  # 50 "fault opened" lines are not the result
    run(ap.parse_args().n)

"""Update benchmark: bundle size and the time from `update` command to a
confirmed new version, on a real agent process under the test supervisor.

    .venv/bin/python bench/update_bench.py                 # project-wheel bundle, deps shared
    .venv/bin/python bench/update_bench.py --deps DIR      # full bundle: every wheel from DIR
                                                           # (e.g. the output of `release build`)

With ``--deps`` the slot venv gets nothing from the dev venv: pip installs all
the bundle's wheels, as on a unit. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from central.broker.process import MosquittoProcess as Broker
from central.release.bundle import build
from central.release.keys import sign_release
from firmware.agent import bootguard as bg
from firmware.agent.updfetch import install_slot
from testkit.agent import Responder
from testkit.updates import (
    SHARED,
    Centre,
    Release,
    Supervisor,
    make_wheel,
    unit_config,
    wait_for,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--deps", type=Path, help="directory of dependency wheels for a full bundle")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="siaga-update-bench-"))
    broker = Broker(tmp / "broker")
    broker.start()
    rel = Release(tmp)
    try:
        deps = [p for p in sorted(args.deps.glob("*.whl")) if not p.name.startswith("siaga112-")] \
            if args.deps else []
        shared = [] if deps else SHARED
        for v in ("1.0.0", "2.0.0"):
            wheel = make_wheel(v, tmp / "wheels", requires=bool(deps))
            build(rel.repo, v, wheels=[wheel, *deps], deps=False)
            sign_release(rel.repo, v, rel.targets_key)
        files = list((rel.repo / "2.0.0").iterdir())
        size = sum(p.stat().st_size for p in files)
        print(f"bundle 2.0.0: {len(files)} files, {size / 1e6:.2f} MB"
              f" ({'full: all wheels' if deps else 'project wheel only, deps shared'})")
        upd = tmp / "update"
        t0 = time.monotonic()
        slot = upd / "slots" / "a"
        install_slot(slot, rel.repo / "1.0.0", "siaga112[firmware]==1.0.0" + (" pip" if deps else ""),
                     shared=shared, system_site_packages=not deps)
        bg.point_current(upd, slot)
        print(f"factory slot install: {time.monotonic() - t0:.1f} s")
        cfg = unit_config(tmp, broker, rel, confirm_s=120, shared_site_packages=[str(p) for p in shared],
                          system_site_packages=not deps)
        centre = Centre(broker)
        responder = Responder(broker).start()
        sup = Supervisor(cfg, upd, tmp / "agent.log").start()
        try:
            wait_for(lambda: centre.firmware("box-001") == "1.0.0", 60, what="v1 online")
            t0 = time.monotonic()
            res = centre.command("box-001", "update", {"version": "2.0.0"})
            assert res.status == "ok", res
            marks: dict[str, float] = {}

            def seen() -> bool:
                st = centre.update_state("box-001")
                if st and st[1] not in marks:
                    marks[st[1]] = time.monotonic() - t0
                return bool(st and st[1] in ("confirmed", "rolled_back", "failed"))
            wait_for(seen, 600, interval=0.02)
            for k, v in marks.items():
                print(f"  {k:12s} at {v:6.1f} s")
            print(f"update v1 -> v2: {max(marks.values()):.1f} s to {list(marks)[-1]}")
        finally:
            sup.stop()
            responder.stop()
            centre.close()
    finally:
        rel.close()
        broker.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

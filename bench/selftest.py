"""How long a unit's self-test takes (issue 17 item 6), on mock pins with the
SIM800 simulator: whole run with the audio loop at its default length, and
without it. Prints numbers; asserts nothing (the machine may be loaded).

    .venv/bin/python bench/selftest.py [runs]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")


def main(runs: int = 5) -> None:
    from firmware.agent.agent import Agent
    from firmware.agent.config import UnitConfig
    from firmware.sim import ModemSimulator

    sim = ModemSimulator("sim800", boot_delay=0.05)
    url = sim.start_tcp()
    with tempfile.TemporaryDirectory() as tmp:
        for audio_s in (1.0, 0.0):
            cfg = UnitConfig.model_validate({
                "device_id": "bench-box", "profile": "field", "reboot_command": ["true"],
                "broker": {"host": "127.0.0.1", "port": 1},
                "storage": {"path": str(Path(tmp) / f"u{audio_s}.db"), "min_free_mb": 0,
                            "critical_reserve_mb": 0},
                "modem": {"url": url, "audio_test_s": audio_s}})
            agent = Agent(cfg)
            agent.modem.start()
            took = []
            res: dict = {}
            for _ in range(runs):
                t = time.perf_counter()
                res = agent.health.self_test()
                took.append(time.perf_counter() - t)
            agent.modem.close()
            agent.hw.close()
            agent.store.close()
            print(f"self-test, audio loop {audio_s:.1f} s x2: median {statistics.median(took):.2f} s, "
                  f"max {max(took):.2f} s over {runs} runs; ok={res['ok']}; audio={res.get('audio')}")
    sim.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)

"""Start the agent from a config path: shared by `siaga unit` and
`python -m firmware.agent` (the lean entry: no Typer, no other programs'
CLIs imported, ~30% faster start on a Pi Zero)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path


def run(config: Path, *, check: bool = False) -> int:
    """Load the config, run the agent until SIGTERM/SIGINT; the exit code."""
    from firmware.agent.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        print(f"Konfigurasi tidak valid / invalid config:\n{exc}", file=sys.stderr)
        return 2
    if check:
        print(f"Konfigurasi valid / config OK: {cfg.device_id} ({cfg.profile.value}), pins {cfg.pin_map()}")
        return 0
    from firmware.agent.agent import Agent
    from firmware.errors import FirmwareError

    try:
        agent = Agent(cfg)
    except Exception as exc:  # pins in use, no GPIO, unwritable storage...: one clear line, exit 1
        print(f"Agen gagal mulai / agent failed to start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1

    def _stop(_signum: int, _frame: object) -> None:
        agent.request_stop(0)  # only sets an Event: safe inside a signal handler

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        return agent.run()
    except FirmwareError as exc:  # e.g. sim_control asked for on real pins
        print(f"Agen berhenti / agent stopped: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os

    ap = argparse.ArgumentParser(prog="python -m firmware.agent",
                                 description="Agen unit / the unit agent (lean entry of `siaga unit`).")
    ap.add_argument("--config", "-c", type=Path, default=Path("/etc/siaga/unit.yaml"),
                    help="Berkas konfigurasi YAML / YAML config file")
    ap.add_argument("--check", action="store_true", help="Hanya periksa konfigurasi / only validate")
    args = ap.parse_args(argv)
    logging.basicConfig(level=os.environ.get("SIAGA_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args.config, check=args.check)

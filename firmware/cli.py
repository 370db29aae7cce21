"""`siaga unit`: run the agent of one Pi (or just check its config).

Heavy libraries (paho, gpiozero, sqlite-utils) are imported only when the
agent actually runs, so `siaga --help` stays fast on a Pi Zero.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import typer

app = typer.Typer(
    help="Agen unit (panel / kotak lapangan) / the unit agent (panel / field box).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)

_log = logging.getLogger("firmware.agent")


@app.callback()
def unit(
    config: Path = typer.Option(
        Path("/etc/siaga/unit.yaml"), "--config", "-c",
        help="Berkas konfigurasi YAML / YAML config file.",
    ),
    check: bool = typer.Option(
        False, "--check", help="Hanya periksa konfigurasi lalu keluar / only validate the config, then exit.",
    ),
) -> None:
    """Jalankan agen unit / run the unit agent."""
    from firmware.agent.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    if check:
        typer.echo(f"Konfigurasi valid / config OK: {cfg.device_id} ({cfg.profile.value}), "
                   f"pins {cfg.pin_map()}")
        raise typer.Exit(0)

    # sqlite-utils imports numpy when it happens to be installed; the agent never
    # needs it (+~15 MB RSS and ~0.1 s start on a Pi Zero). A Pi install has no numpy.
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]
    from firmware.agent.agent import Agent
    from firmware.errors import FirmwareError

    try:
        agent = Agent(cfg)
    except FirmwareError as exc:
        typer.echo(f"Agen gagal mulai / agent failed to start: {exc}", err=True)
        raise typer.Exit(1) from None

    def _stop(signum: int, _frame: object) -> None:
        agent.request_stop(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = agent.run()
    sys.stdout.flush()
    raise typer.Exit(code)

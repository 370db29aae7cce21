"""`siaga unit`: run the agent of one Pi (or just check its config).

Heavy libraries (paho, gpiozero, the modem driver) are imported only when the
agent actually runs, so `siaga --help` stays fast on a Pi Zero. The same
runner is reachable without Typer as `python -m firmware.agent`.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Agen unit (panel / kotak lapangan) / the unit agent (panel / field box).",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
)


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
    from firmware.agent.main import run

    raise typer.Exit(run(config, check=check))

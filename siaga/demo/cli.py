"""`siaga demo`: run the demo site locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Jalankan situs demo / run the demo site.", invoke_without_command=True)


@app.callback()
def demo(
    state: Annotated[Path, typer.Option(help="Folder status demo / demo state folder")] = Path("demo-state"),
    duration: Annotated[float | None, typer.Option(
        help="Berhenti setelah N detik / stop after N seconds (default: until Ctrl-C)")] = None,
    interval: Annotated[float, typer.Option(
        help="Rata-rata detik antar kejadian / mean seconds between events")] = 8.0,
    port: Annotated[int, typer.Option(help="Port HTTP gateway / gateway HTTP port")] = 8112,
    seed: Annotated[int | None, typer.Option(
        help="Benih acak: skenario yang sama tiap jalan / random seed: the same scenario every run")] = None,
    fresh: Annotated[bool, typer.Option(
        "--fresh/--keep", help="Mulai dari nol / start from scratch (default) or keep old state")] = True,
) -> None:
    """Broker, gateway, OPD tiruan, unit tersimulasi / broker, gateway, stand-in OPDs, simulated units.

    Semua di mesin ini, tanpa perangkat keras / all on this machine, no hardware needed.
    """
    import logging

    from siaga.demo.run import run_demo

    logging.getLogger("siaga.demo").setLevel(logging.INFO)
    raise typer.Exit(run_demo(state.resolve(), duration_s=duration, interval_s=interval, fresh=fresh,
                              http_port=port, seed=seed))

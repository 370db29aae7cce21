"""Root of the `siaga` console script.

Each program owns its own Typer app in its own package; this module only
mounts them. Heavy libraries are imported inside commands, so `siaga --help`
stays fast on a Pi Zero.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from siaga import __version__

#: subcommand name -> ("module:attribute" of its Typer app, help text)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "protocol": ("protocol.cli:app", "Kontrak kabel / the wire contract (schemas, topics)."),
    "gateway": ("gateway.cli:app", "Gateway pusat / the central gateway (ingest, dispatch, API)."),
    "unit": ("firmware.cli:app", "Agen unit di setiap Pi / the agent on every Pi (panel, field box)."),
    "admin": ("central.cli:app", "Administrasi armada / fleet admin (devices, config, commands, health)."),
    "demo": ("siaga.demo.cli:app", "Situs demo lokal / run the whole system locally (demo site)."),
    "sim": ("firmware.sim.cli:app", "Simulator modem GSM / GSM modem simulator (pty, TCP)."),
}

app = typer.Typer(
    help=(
        "Siaga 112: sistem nomor darurat kota / a city's emergency-number system.\n\n"
        "Setiap program punya subperintah / each program has a subcommand."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"siaga {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Versi / version."
    ),
) -> None:
    logging.basicConfig(
        level=os.environ.get("SIAGA_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every schema check at INFO; only its warnings matter here
    logging.getLogger("alembic").setLevel(logging.WARNING)


_mounted: set[str] = set()


def mount(names: list[str] | None = None) -> typer.Typer:
    """Add the named programs' apps (all when ``names`` is None); idempotent."""
    for name in names if names is not None else list(SUBCOMMANDS):
        if name in _mounted:
            continue
        _mounted.add(name)
        target, help_text = SUBCOMMANDS[name]
        module, attr = target.split(":")
        app.add_typer(getattr(importlib.import_module(module), attr), name=name, help=help_text)
    return app


def main(argv: list[str] | None = None) -> None:
    """Import only the program being run: `siaga unit` on a Pi Zero must not
    pay for the gateway's or the simulator's imports (`--help` loads all)."""
    args = sys.argv[1:] if argv is None else argv
    first = next((a for a in args if not a.startswith("-")), None)
    mount([first] if first in SUBCOMMANDS else None)
    app(args=args)

"""Root of the `siaga` console script.

Each program owns its own Typer app in its own package; this module only
mounts them. Heavy libraries are imported inside commands, so `siaga --help`
stays fast on a Pi Zero.
"""

from __future__ import annotations

import importlib
import logging
import os

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


for _name, (_target, _help) in SUBCOMMANDS.items():
    _module, _attr = _target.split(":")
    app.add_typer(getattr(importlib.import_module(_module), _attr), name=_name, help=_help)


def main() -> None:
    app()

"""`siaga protocol ...`: look at the wire contract from the shell."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(
    help="Kontrak kabel (protokol v1) / the wire contract (protocol v1).",
    no_args_is_help=True,
)


@app.command()
def schema(
    model: Annotated[
        str | None, typer.Argument(help="Satu model saja / only this payload model")
    ] = None,
) -> None:
    """Cetak JSON Schema setiap payload / print the JSON Schema of every payload."""
    from protocol.schema import all_schemas

    schemas = all_schemas()
    if model is not None:
        if model not in schemas:
            typer.echo(
                f"Model tidak dikenal / unknown model {model!r}; ada / known: {', '.join(schemas)}",
                err=True,
            )
            raise typer.Exit(2)
        schemas = {model: schemas[model]}
    typer.echo(json.dumps(schemas, indent=2, ensure_ascii=False))


@app.command()
def categories() -> None:
    """Tampilkan katalog kategori / show the category catalogue."""
    from protocol.categories import CATALOGUE

    typer.echo(f"{'code':22} {'prio':>4} {'ack':>5} {'done':>5}  opd / label")
    for c in CATALOGUE.values():
        typer.echo(
            f"{c.code.value:22} {c.priority.value:>4} {c.sla_ack_min or '-':>5} "
            f"{c.sla_resolve_min or '-':>5}  {','.join(c.default_opds) or '-'} / "
            f"{c.label_id} ({c.label_en})"
        )


@app.command()
def topics() -> None:
    """Tampilkan tabel topik / show the topic table (QoS, retain, direction)."""
    from protocol.topics import QOS, RETAIN, UNIT_PUBLISHES, DeviceTopic

    for kind in DeviceTopic:
        who = "unit -> centre" if UNIT_PUBLISHES[kind] else "centre -> unit"
        typer.echo(
            f"siaga/v1/dev/{{device}}/{kind.value:16} qos={QOS[kind]} "
            f"retain={str(RETAIN[kind]).lower():5} {who}"
        )
    typer.echo("siaga/v1/opd/{opd}/dispatch            qos=1 retain=false gateway -> OPD")

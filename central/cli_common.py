"""Helpers shared by the `siaga admin` command modules."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="SIAGA_CENTRAL_CONFIG",
                                                help="central.yaml (berkas konfigurasi / config file)")]
STATE: dict[str, Any] = {}


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def fail(msg: str, code: int = 2) -> typer.Exit:
    typer.echo(msg, err=True)
    return typer.Exit(code)


def open_central(*, readonly: bool = False) -> Any:
    """Central for one command, over the gateway's database; no command ever
    creates it (a missing or unmigrated one is an error naming it).
    ``readonly`` is kept for the callers' intent; both kinds open the same way."""
    from central.context import Central
    from central.settings import NoConfig, load_settings
    from gateway.fleet.errors import BadSetting, RegistryUnavailable

    try:
        return Central.open(load_settings(STATE.get("config")), actor=f"cli:{_os_user()}")
    except NoConfig as exc:
        raise fail(str(exc)) from None
    except BadSetting as exc:
        raise fail(f"Konfigurasi tidak sah / invalid config:\n{exc}") from None
    except RegistryUnavailable as exc:
        raise fail(str(exc), 1) from None


def table(rows: list[dict[str, Any]], cols: list[str]) -> None:
    """Plain text table (no heavy deps; readable over SSH on a Pi)."""
    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "ya/yes" if v else "tidak/no"
    if isinstance(v, list):
        return ",".join(str(x) for x in v) or "-"
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return str(v)


_DUR = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


def parse_duration(text: str) -> timedelta:
    """``90``/``90s``, ``30m``, ``1h``, ``2d``."""
    m = _DUR.match(text.strip())
    if not m:
        raise ValueError(f"durasi tidak sah / bad duration {text!r} (e.g. 90s, 30m, 1h, 2d)")
    n, unit = float(m.group(1)), m.group(2) or "s"
    return timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def apply_broker(c: Any, reload: bool = True) -> None:
    """Write passwd + ACL, reload; a failed reload is exit 1 with the files kept."""
    from central.errors import BrokerNotRunning, BrokerReloadError

    if not reload:
        c.prov.write_files()
        typer.echo("Broker: berkas ditulis, tidak dimuat ulang / files written, not reloaded")
        return
    try:
        typer.echo(f"Broker: {c.prov.apply()}")
    except BrokerNotRunning as exc:
        typer.echo(f"Broker: berkas ditulis; broker tidak berjalan, tidak dimuat ulang / files "
                   f"written; no broker running, reload skipped ({exc})")
    except BrokerReloadError as exc:
        raise fail(f"Berkas ditulis, broker tidak dimuat ulang / files written, broker not "
                    f"reloaded: {exc}", 1) from None

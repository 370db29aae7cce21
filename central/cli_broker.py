"""`siaga admin broker ...`: site Mosquitto config, service users, reload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from central.cli_common import apply_broker, fail, open_central

broker_app = typer.Typer(help="Konfigurasi broker Mosquitto / Mosquitto broker configuration.",
                         no_args_is_help=True)


@broker_app.command("gen-config")
def broker_gen_config() -> None:
    """Tulis mosquitto.conf, passwd dan acl situs / write the site's mosquitto.conf, passwd and acl."""
    from central.broker.bridge import BridgeError
    from central.broker.site import write_auth_files, write_broker_config

    c = open_central()
    try:
        cfg = c.settings.mosquitto
        try:
            conf = write_broker_config(cfg, c.settings.site_dir)
        except BridgeError as exc:
            raise fail(f"Gagal / Failed: {exc}", 1) from None
        paths = write_auth_files(c.db, c.registry, c.settings.site_dir, broker_user=cfg.run_as_user)
    finally:
        c.close()
    typer.echo(f"Ditulis / written: {conf}, {paths.passwd}, {paths.acl}")
    _warn_unreadable(cfg.run_as_user, [paths.passwd, paths.acl])
    if not (cfg.tls_cert and cfg.tls_key):
        typer.echo("PERINGATAN / WARNING: tanpa TLS / no TLS listener (set mosquitto.tls_cert/tls_key)",
                   err=True)


def _warn_unreadable(user: str | None, files: list[Path]) -> None:
    """The broker reads these after dropping to ``user``: say so if it cannot."""
    from central.broker.files import unreadable_by

    bad = unreadable_by(user, files) if user else []
    if bad:
        typer.echo(f"PERINGATAN / WARNING: pengguna broker {user} tidak dapat membaca / the broker's "
                   f"user {user} cannot read: {', '.join(map(str, bad))}", err=True)


@broker_app.command("user")
def broker_user(
    name: Annotated[str, typer.Argument(help="Pengguna layanan / service user, e.g. gateway, admin")],
    access: Annotated[str, typer.Option(help="read | write | readwrite on siaga/v1/#, or city:<city> "
                                              "(a city's bridge user on a province broker)")] = "readwrite",
    password_file: Annotated[Path | None, typer.Option(help="Tulis sandi ke berkas ini (0600) / write the "
                                                            "password to this file")] = None,
    reload: Annotated[bool, typer.Option("--reload/--no-reload", help=(
        "Muat ulang broker / reload the broker (skipped, and said so, when none runs)"))] = True,
) -> None:
    """Buat/atur ulang pengguna layanan / create or reset a service user."""
    import re

    from central.broker.bridge import CITY_PATTERN

    city = access.startswith("city:") and re.match(CITY_PATTERN, access[5:])
    if access not in ("read", "write", "readwrite") and not city:
        raise fail(f"Akses tidak sah / bad access {access!r}")
    c = open_central()
    try:
        try:
            pw = c.prov.add_service(name, access=access, reload=False)
        except ValueError as exc:
            raise fail(str(exc)) from None
        if password_file:
            password_file.touch(mode=0o600)
            password_file.chmod(0o600)
            password_file.write_text(pw + "\n")
            typer.echo(f"Sandi ditulis / password written: {password_file}")
        else:
            typer.echo(pw)
        apply_broker(c, reload=reload)
    finally:
        c.close()


@broker_app.command("reload")
def broker_reload() -> None:
    """Tulis ulang passwd/acl dan muat ulang broker / rewrite passwd/acl and reload the broker."""
    c = open_central()
    try:
        apply_broker(c)
    finally:
        c.close()

"""``siaga gateway``: run the gateway, check a site file, migrate, add users."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Gateway pusat / the central gateway (MQTT ingest + REST API).",
    invoke_without_command=True,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Berkas situs / site YAML file")]


def _load(path: Path | None):
    from gateway.config import load_config
    from gateway.errors import ConfigError

    if path is None:
        typer.echo("Perlu --config / --config FILE is required", err=True)
        raise typer.Exit(2)
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.callback()
def main(
    ctx: typer.Context,
    config: ConfigOpt = None,
    web_only: Annotated[bool, typer.Option(
        "--web-only",
        help="Hanya halaman dan API / pages and API only: no MQTT ingest, no dispatcher, no "
             "singleton roles; runs beside a gateway process on the same database and broker "
             "(docs/deploy-scale.md, a web process)")] = False,
    http_port: Annotated[int | None, typer.Option(
        "--http-port", min=1, max=65535,
        help="Port HTTP / HTTP port instead of gateway.http.port (two processes from one site file)")] = None,
) -> None:
    """Jalankan gateway / run the gateway: `siaga gateway --config site.yaml`."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    from gateway.errors import InsecureConfig, WorkerDied
    from gateway.runtime import run

    cfg = _load(config)
    try:
        run(cfg, web_only=web_only, http_port=http_port)
    except (InsecureConfig, WorkerDied) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command("check-config")
def check_config(
    file: Annotated[Path, typer.Argument(help="Berkas situs / site YAML file")],
    skip_secrets: Annotated[bool, typer.Option(
        "--skip-secrets", help="Jangan baca berkas rahasia / do not read secret files at all")] = False,
    require_secrets: Annotated[bool, typer.Option(
        "--require-secrets",
        help="Berkas rahasia yang tidak ada = galat / an absent secret file is an error "
             "(on the gateway host, where they must exist)")] = False,
) -> None:
    """Periksa berkas situs / validate a site file (errors as file:line: key: message).

    Secret files that exist are read and judged (weak, default, short); ones
    that do not exist yet are listed and skipped unless --require-secrets:
    they are often systemd credentials, present only inside the service, and
    the gateway refuses to start without them."""
    from gateway.config.models import Mode
    from protocol.configfile import line_of_key

    cfg = _load(file)
    if cfg.gateway.fleet_config is not None:  # the fleet wing's part of central.yaml, checked the same way
        from gateway.fleet.settings import FleetConfigError, load_fleet_settings

        try:
            load_fleet_settings(cfg.gateway.fleet_config)
        except FleetConfigError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    check = cfg.mode is not Mode.DEMO and not skip_secrets
    bad = cfg.insecure_secrets(absent_ok=not require_secrets) if check else []
    absent = cfg.absent_secrets() if check and not require_secrets else []
    text = file.read_text(encoding="utf-8")

    def where(key: str) -> str:
        line = line_of_key(text, key)
        return f"{file}:{line}" if line else str(file)

    for b in bad:
        typer.echo(f"{where(b)}: {b}", err=True)
    if bad:
        raise typer.Exit(1)
    for a in absent:
        typer.echo(f"{where(a)}: belum ada, tidak diperiksa / absent, not checked: {a}", err=True)
    note = (f"; {len(absent)} berkas rahasia belum ada / secret files absent "
            f"(--require-secrets on the gateway host)") if absent else ""
    typer.echo(f"OK: {file} ({cfg.site.name}, {len(cfg.opds)} OPD, "
               f"{len(cfg.routing.rules)} aturan / rules{note})")


@app.command()
def migrate(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Perbarui skema basis data / bring the database schema up to date."""
    from sqlalchemy.exc import OperationalError

    from gateway.store.db import Database, current_revision, safe_url

    cfg = _load(config or ctx.obj)
    db = Database(cfg.gateway.database_url)
    try:
        db.migrate()
        typer.echo(f"Skema / schema at revision {current_revision(db.engine)} "
                   f"({safe_url(db.url)})")
    except OperationalError as exc:
        # the driver's message names host/user, never the password; the URL is masked
        reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else ""
        typer.echo(f"Gagal / Failed: {safe_url(db.url)}: {reason}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()


@app.command("create-user")
def create_user(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Nama pengguna / user name")],
    role: Annotated[str, typer.Option(help="operator | supervisor | opd | admin | mayor")],
    opd: Annotated[str | None, typer.Option(help="OPD id (peran opd / role opd)")] = None,
    password_file: Annotated[Path | None, typer.Option(
        help="Baca sandi dari berkas / read password from file")] = None,
    token: Annotated[bool, typer.Option(
        "--token", help="Buat juga token API / also print an API token")] = False,
    config: ConfigOpt = None,
) -> None:
    """Tambah pengguna / add a user (password asked for unless --password-file)."""
    from gateway import auth
    from gateway.store.db import Database

    cfg = _load(config or ctx.obj)
    if opd is not None and cfg.opd(opd) is None:
        typer.echo(f"OPD tidak dikenal / unknown OPD {opd!r}", err=True)
        raise typer.Exit(1)
    if password_file is not None:
        password = password_file.read_text().strip()
    else:
        password = typer.prompt("Kata sandi / password", hide_input=True, confirmation_prompt=True)
    db = Database(cfg.gateway.database_url)
    db.migrate()
    try:
        with db.session() as s:
            user = auth.create_user(s, username, password, role, opd=opd)
            tok = auth.create_token(s, user, "cli") if token else None
    except (auth.AuthError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"Pengguna dibuat / user created: {username} ({role}{', ' + opd if opd else ''})")
    if tok:
        typer.echo(f"token: {tok}")


@app.command("report")
def report(
    ctx: typer.Context,
    month: Annotated[str, typer.Option(
        "--month", "-m", help="Bulan / month, YYYY-MM (mis. / e.g. 2026-11)", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Berkas PDF / PDF file to write (mis. / e.g. rapor.pdf)", show_default=False)],
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="Juga angka-angkanya sebagai CSV / also the numbers as CSV")] = None,
    config: ConfigOpt = None,
) -> None:
    """Rapor OPD bulanan / the monthly OPD report as PDF (summary + one page per OPD).

    Dibaca dari basis data gateway (hanya baca) / read from the gateway's
    database (read only), the same numbers as the dashboard's "Bulan" period.
    Example: siaga gateway --config site.yaml report --month 2026-11 --out rapor.pdf
    """
    from gateway.report_cli import make_report

    cfg = _load(config or ctx.obj)
    make_report(cfg, month, out, csv_out, say=typer.echo, fail=lambda m: typer.echo(m, err=True))


@app.command("rollups")
def rollups(
    ctx: typer.Context,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Bangun ulang semua hari / rebuild every day (after a time zone change)")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Bandingkan dengan baris mentah / compare every day with its raw rows")] = False,
    config: ConfigOpt = None,
) -> None:
    """Rollup KPI dasbor / the dashboard's per-day KPI rollups: refresh, rebuild, verify.

    Tanpa opsi: perbarui hari yang berubah / without options: refresh the changed days.
    Example: siaga gateway --config site.yaml rollups --rebuild --verify
    """
    from gateway import kpi_rollup
    from gateway.store.db import Database

    cfg = _load(config or ctx.obj)
    tz = cfg.site.timezone
    db = Database(cfg.gateway.database_url)

    def progress(done: int, total: int) -> None:
        typer.echo(f"  {done}/{total} hari / days", err=True)

    try:
        with db.session() as s:
            if rebuild:
                n = kpi_rollup.rebuild(s, tz, progress)
                typer.echo(f"Dibangun ulang / rebuilt: {n} hari berisi / days with rows ({tz})")
            else:
                n = kpi_rollup.refresh(s, tz)
                if n < 0:
                    typer.echo(f"Rollup dibuat untuk / built for {kpi_rollup.built_for(s)!r}: "
                               f"jalankan / run --rebuild", err=True)
                    raise typer.Exit(1)
                typer.echo(f"Diperbarui / refreshed: {n} hari / days")
        if verify:
            from datetime import date

            from gateway import kpi_rollup_months

            with db.read_session() as s:
                bad = kpi_rollup.verify(s, tz, progress)
                bad_months = kpi_rollup_months.verify(s)
            if bad:
                typer.echo("Berbeda / differ: " + ", ".join(date.fromordinal(d).isoformat() for d in bad),
                           err=True)
            if bad_months:
                typer.echo("Bulan berbeda dari jumlah harinya / months differ from the sum of their days: "
                           + ", ".join(date.fromordinal(d).strftime("%Y-%m") for d in bad_months)
                           + " (jalankan / run --rebuild)", err=True)
            if bad or bad_months:
                raise typer.Exit(1)
            typer.echo("Cocok / verified: every stored day equals its raw rows, every month its days")
        with db.read_session() as s:
            typer.echo("Baris / rows: " + ", ".join(f"{k} {v:,}" for k, v in kpi_rollup.counts(s).items()))
    except RuntimeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()

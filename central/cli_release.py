"""`siaga admin release ...` (keys, bundles, signatures, serving) and
`siaga admin rollout ...` (staged rollouts). See docs/updates.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from central.cli_common import fail, open_central, parse_duration, table
from gateway.fleet.errors import ReleaseError

release_app = typer.Typer(help="Rilis perangkat lunak unit / unit software releases (signed).",
                          no_args_is_help=True)
rollout_app = typer.Typer(help="Peluncuran bertahap / staged rollouts.", no_args_is_help=True)

RepoOpt = Annotated[Path, typer.Option("--repo", help="Direktori repositori rilis / release repository dir")]


def _run(fn: Any) -> Any:
    try:
        return fn()
    except ReleaseError as exc:
        raise fail(f"Gagal / Failed: {exc}", 2) from None


@release_app.command("keygen")
def keygen(path: Annotated[Path, typer.Argument(help="Berkas kunci privat / private key file")]) -> None:
    """Buat kunci Ed25519 / make an Ed25519 key (0600) and PATH.pub.

    Passphrase (optional) from $SIAGA_KEY_PASSPHRASE. Make the root key on an offline machine."""
    from central.release.keys import generate_key
    pub = _run(lambda: generate_key(path))
    typer.echo(f"Kunci publik / public key: {pub}")


@release_app.command("delegate")
def delegate(repo: RepoOpt, root_key: Annotated[Path, typer.Option(help="Kunci root / root private key")],
             targets_pub: Annotated[list[str], typer.Option(help="Kunci publik targets (hex atau berkas)")],
             expires_days: Annotated[float, typer.Option(help="Berlaku / valid for days")] = 365.0) -> None:
    """Tandatangani root.json / sign root.json: the root key names the valid targets key(s).

    Each run raises the root version; units refuse an older root.json (key rotation)."""
    from central.release.keys import sign_root
    doc = _run(lambda: sign_root(repo, root_key, targets_pub, expires_days=expires_days))
    typer.echo(f"root.json v{doc['signed']['version']} -> {repo / 'root.json'}")


@release_app.command("build")
def build(version: Annotated[str, typer.Argument(help="Versi / version, e.g. 1.2.0")], repo: RepoOpt,
          project: Annotated[Path | None, typer.Option(help="Direktori proyek / project dir")] = None,
          wheel: Annotated[list[Path] | None, typer.Option(help="Wheel yang sudah ada / existing wheel")]
          = None,
          no_deps: Annotated[bool, typer.Option("--no-deps", help="Tanpa dependensi / project wheel only")]
          = False,
          platform: Annotated[str | None, typer.Option(help="e.g. manylinux2014_aarch64 (Pi 64-bit)")] = None,
          python_version: Annotated[str | None, typer.Option(help="Python di unit / on the unit, e.g. 3.11")]
          = None) -> None:
    """Buat bundel / build a bundle: REPO/VERSION/*.whl ([firmware] extra and its dependencies)."""
    from central.release.bundle import build as do_build
    files = _run(lambda: do_build(repo, version, project=project, wheels=wheel or [], deps=not no_deps,
                                  platform=platform, python_version=python_version))
    size = sum(p.stat().st_size for p in files)
    typer.echo(f"{len(files)} berkas / files, {size / 1e6:.2f} MB -> {repo / version}")


@release_app.command("sign")
def sign(version: Annotated[str, typer.Argument(help="Versi / version")], repo: RepoOpt,
         targets_key: Annotated[Path, typer.Option(help="Kunci targets / targets private key")],
         expires_days: Annotated[float, typer.Option(help="Berlaku / valid for days")] = 90.0,
         store_compat: Annotated[int, typer.Option(help="Format penyimpanan / store format level")] = 1,
         requirement: Annotated[str | None, typer.Option(help="Default: siaga112[firmware]==VERSION")]
         = None) -> None:
    """Tandatangani bundel / sign a bundle: REPO/VERSION/targets.json (length + sha256 of each file)."""
    from central.release.keys import sign_release
    doc = _run(lambda: sign_release(repo, version, targets_key, expires_days=expires_days,
                                    requirement=requirement, store_compat=store_compat))
    typer.echo(f"{version}: {len(doc['signed']['files'])} berkas ditandatangani / files signed, "
               f"expires {doc['signed']['expires']}")


@release_app.command("serve")
def serve(repo: RepoOpt, host: str = "0.0.0.0", port: int = 8443,  # noqa: S104
          tls_cert: Annotated[Path | None, typer.Option(help="Sertifikat / certificate (PEM)")] = None,
          tls_key: Annotated[Path | None, typer.Option(help="Kunci / key (PEM)")] = None) -> None:
    """Sajikan repositori / serve the repository over HTTP(S) with Range (small sites; nginx otherwise)."""
    from central.release.serve import make_server
    srv = make_server(repo, host, port, tls_cert=tls_cert, tls_key=tls_key)
    typer.echo(f"Melayani / serving {repo} on {'https' if tls_cert else 'http'}://{host}:{port}/")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


@rollout_app.command("start")
def rollout_start(version: Annotated[str, typer.Argument(help="Versi / version")],
                  url: Annotated[str, typer.Option(help="URL repositori untuk unit / repository URL")],
                  group: Annotated[str | None, typer.Option(help="Hanya grup ini / only this group")] = None,
                  percent: Annotated[float | None, typer.Option(help="Persen armada / fleet %")] = None,
                  waves: Annotated[str, typer.Option(help="Persen kumulatif / cumulative %")] = "10,50,100",
                  abort_pct: Annotated[float, typer.Option(help="Batal bila > X% gagal / abort")] = 20.0,
                  wave_timeout: Annotated[str, typer.Option(help="Batas per gelombang / per wave")] = "1h",
                  ) -> None:
    """Mulai peluncuran / start a staged rollout (the fleet watch runs it)."""
    from gateway.fleet.rollout import select_units
    try:
        wave_list = [float(w) for w in waves.split(",") if w.strip()]
        timeout_s = parse_duration(wave_timeout).total_seconds()
    except ValueError as exc:
        raise fail(f"Gagal / Failed: {exc}") from None
    c = open_central()
    try:
        units, label = _run(lambda: select_units(c.fleet, group=group, percent=percent))
        r = _run(lambda: c.rollouts.create(version, url, units, target=label, waves=wave_list,
                                           abort_pct=abort_pct, wave_timeout_s=timeout_s))
    finally:
        c.close()
    typer.echo(f"Rollout {r['id']}: {version} -> {len(r['units'])} unit ({label}), "
               f"{len({u['wave'] for u in r['units']})} gelombang / waves")


@rollout_app.command("show")
def rollout_show(rollout_id: Annotated[str | None, typer.Argument(help="Id (default: terbaru / newest)")]
                 = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Status per unit / per-unit state of a rollout."""
    c = open_central()
    try:
        rows = c.rollouts.list(1) if rollout_id is None else [_run(lambda: c.rollouts.get(rollout_id))]
    finally:
        c.close()
    if not rows:
        raise fail("Belum ada rollout / no rollouts yet", 1)
    r = rows[0]
    if as_json:
        typer.echo(json.dumps(r, indent=2, ensure_ascii=False, default=str))
        return
    typer.echo(f"{r['id']} {r['version']} {r['state']} (wave {r['wave'] + 1}/{len(r['waves'])}, "
               f"abort > {r['abort_pct']:g}%) {r['reason'] or ''}".rstrip())
    typer.echo("  " + ", ".join(f"{k} {v}" for k, v in r["counts"].items() if v))
    for u in r["units"]:
        u["wave"] = u["wave"] + 1
    table(r["units"], ["device", "wave", "state", "error", "updated_at"])


@rollout_app.command("abort")
def rollout_abort(rollout_id: Annotated[str, typer.Argument(help="Id")]) -> None:
    """Hentikan / stop offering the update to more units (units mid-update finish or roll back)."""
    c = open_central()
    try:
        r = _run(lambda: c.rollouts.abort(rollout_id))
    finally:
        c.close()
    typer.echo(f"{r['id']}: {r['state']}")

"""`siaga admin ...`: run the fleet from the shell.

Every command reads ``central.yaml`` (``--config`` or ``$SIAGA_CENTRAL_CONFIG``).
Console text is Bahasa Indonesia first, English second. Exit codes: 0 done,
1 the unit or broker said no (failed, timed out, refused), 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from central.cli_broker import broker_app
from central.cli_common import STATE, ConfigOpt, fail, open_central, parse_duration, table
from central.cli_device import device_app
from central.cli_release import release_app, rollout_app

app = typer.Typer(help="Administrasi armada / fleet administration (devices, config, commands, health).",
                  no_args_is_help=True)
config_app = typer.Typer(help="Konfigurasi yang diinginkan / desired configuration.", no_args_is_help=True)
app.add_typer(device_app, name="device")
app.add_typer(config_app, name="config")
app.add_typer(broker_app, name="broker")
app.add_typer(release_app, name="release")
app.add_typer(rollout_app, name="rollout")


@app.callback()
def _main(config: ConfigOpt = None) -> None:
    STATE["config"] = config


@app.command("devices")
def devices(as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON / JSON output")] = False,
            ) -> None:
    """Tabel armada / fleet table.

    Daring/luring, terakhir terlihat, gangguan, konfigurasi / online or offline, last seen,
    open faults, config drift."""
    c = open_central(readonly=True)
    try:
        rows = c.fleet.device_rows()
    finally:
        c.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    for r in rows:
        r["state"] = ("dicabut/revoked" if r["revoked"] else "nonaktif/disabled" if not r["enabled"]
                      else "daring/online" if r["online"] else "luring/offline")
    table(rows, ["id", "profile", "state", "firmware", "last_seen", "faults", "config"])


@app.command("faults")
def faults(device: Annotated[str | None, typer.Option(help="Hanya perangkat ini / only this device")] = None,
           all_: Annotated[bool, typer.Option("--all", help="Termasuk yang sudah pulih / include closed")]
           = False) -> None:
    """Episode gangguan / fault episodes (open by default)."""
    c = open_central(readonly=True)
    try:
        rows = c.health.faults(device, limit=500) if all_ else c.health.open_faults(device)
    finally:
        c.close()
    if not rows:
        typer.echo("Tidak ada gangguan / no faults")
        return
    table(rows, ["id", "device", "fault", "detail", "opened_at", "closed_at"])


# -- configuration -------------------------------------------------------------------------------

@config_app.command("set")
def config_set(
    assignments: Annotated[list[str], typer.Argument(
        help="[id perangkat / device id] kunci=nilai / key=value..., e.g. box-1 volume=80 heartbeat=30 "
             "button.sos=medical centre=+62351112")],
    group: Annotated[str | None, typer.Option("--group", "-g", help="Semua anggota grup / every member")]
    = None,
    publish: Annotated[bool, typer.Option(help="Terbitkan sekarang / publish now (else the fleet "
                                               "service publishes it)")] = True,
) -> None:
    """Ubah konfigurasi / change configuration.

    Per perangkat atau grup; versi baru, diterbitkan retained / per device or group; a new
    version each, published retained."""
    from gateway.fleet.errors import BadSetting, FleetError, UnknownDevice
    from gateway.fleet.link import Link

    device = None
    if assignments and "=" not in assignments[0]:
        device, assignments = assignments[0], assignments[1:]
    if (device is None) == (group is None):
        raise fail("Beri id perangkat atau --group / give a device id or --group (not both)")
    if not assignments:
        raise fail("Tidak ada kunci=nilai / no key=value given")
    from gateway.fleet.desired import merge_settings, parse_assignments

    c = open_central()
    try:
        changes = parse_assignments(assignments)
        targets = [device] if device else c.prov.members(group)
        if not targets:
            raise fail(f"Grup kosong / empty group: {group}")
        for t in targets:
            c.registry.get(t)
            merge_settings({}, changes)  # reject a bad value before any version is used
        docs = {t: c.config.set(t, changes) for t in targets}
        if publish:
            with Link(c.settings.broker).start() as link:
                for t in targets:
                    c.config.publish(link, t)
    except (BadSetting, UnknownDevice) as exc:
        raise fail(str(exc)) from None
    except FleetError as exc:
        raise fail(f"Tersimpan, belum terbit / stored, not published: {exc}", 1) from None
    finally:
        c.close()
    for t, doc in docs.items():
        typer.echo(f"{t}: versi / version {doc.version} "
                   f"{'diterbitkan / published' if publish else 'tersimpan / stored'}")


@config_app.command("show")
def config_show(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")]) -> None:
    """Diinginkan vs dilaporkan / desired vs reported, and drift."""
    c = open_central(readonly=True)
    try:
        c.registry.get(device_id)
        desired, reported, drift = (c.config.desired(device_id), c.config.reported(device_id),
                                    c.config.drift(device_id))
    except KeyError as exc:
        raise fail(str(exc)) from None
    finally:
        c.close()
    typer.echo(f"drift: {drift.state}  desired v{drift.desired_version or '-'}  "
               f"reported v{drift.reported_version if drift.reported_version is not None else '-'}")
    if drift.refused_version is not None:
        typer.echo(f"ditolak / refused v{drift.refused_version}: {drift.error}")
    d = desired.settings.model_dump(mode="json", exclude_none=True, exclude={"v"}) if desired else {}
    r = reported.settings.model_dump(mode="json", exclude_none=True, exclude={"v"}) if reported else {}
    table([{"key": k, "desired": d.get(k), "reported": r.get(k), "same": d.get(k) == r.get(k)}
            for k in sorted(set(d) | set(r))], ["key", "desired", "reported", "same"])


# -- commands ------------------------------------------------------------------------------------

def _parse_args(pairs: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            raise ValueError(f"harus k=v / must be k=v: {p!r}")
        out[k] = yaml.safe_load(v) if v.strip() else ""
    return out


def _print_result(rec: Any) -> None:
    rows = [{"field": "command", "value": f"{rec.name} ({rec.id})"},
            {"field": "state", "value": rec.state.value}]
    if rec.error:
        rows.append({"field": "error", "value": rec.error})
    for k, v in (rec.result or {}).items():
        if isinstance(v, dict):
            rows += [{"field": f"{k}.{k2}", "value": v2} for k2, v2 in v.items()]
        else:
            rows.append({"field": k, "value": v})
    table(rows, ["field", "value"])


@app.command("cmd")
def cmd(
    device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")],
    name: Annotated[str, typer.Argument(help="ping, self_test, reboot, restart_agent, modem_reset, "
                                             "set_log_level, logs, flush_outbox")],
    arg: Annotated[list[str] | None, typer.Option("--arg", "-a", help="Argumen k=v / argument k=v "
                                                  "(e.g. --arg lines=50, --arg level=DEBUG)")] = None,
    lines: Annotated[int | None, typer.Option(help="Untuk `logs`: jumlah baris / for `logs`: line count")]
    = None,
    timeout: Annotated[float | None, typer.Option(help="Detik menunggu jawaban / seconds to wait")] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Antrekan untuk perangkat luring / queue for an "
                                                        "offline unit (sent by the fleet service)")] = False,
    expires: Annotated[str, typer.Option(help="Kedaluwarsa antrean / queue expiry, e.g. 30m, 1h, 2d")] = "1h",
) -> None:
    """Kirim perintah dan tampilkan hasilnya / send a command and print its result."""
    from gateway.fleet.commands import CmdState, run_command
    from gateway.fleet.errors import BrokerUnavailable, CommandTimeout, UnknownDevice
    from gateway.fleet.link import Link
    from gateway.fleet.sql import utcnow

    try:
        args = _parse_args(arg or [])
        if lines is not None:
            args["lines"] = lines
        expiry = parse_duration(expires)
    except ValueError as exc:
        raise fail(str(exc)) from None
    c = open_central()
    try:
        c.registry.get(device_id)
        t = timeout or c.settings.command_timeout_s
        if queue:
            rec = c.commands.create(device_id, name, args, timeout_s=t, expires_at=utcnow() + expiry)
            typer.echo(f"Diantrekan / queued: {rec.id} "
                       f"(kedaluwarsa / expires {rec.expires_at:%Y-%m-%d %H:%M}Z)")
            return
        with Link(c.settings.broker).start() as link:
            rec = run_command(c.commands, link, device_id, name, args, timeout_s=t)
    except UnknownDevice as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:
        raise fail(f"Perintah tidak sah / invalid command: {exc}") from None
    except CommandTimeout as exc:
        raise fail(f"Waktu habis / timed out: {exc}", 1) from None
    except BrokerUnavailable as exc:
        raise fail(f"Broker: {exc}", 1) from None
    finally:
        c.close()
    _print_result(rec)
    if rec.state != CmdState.SUCCEEDED:
        raise typer.Exit(1)


@app.command("commands")
def commands(device: Annotated[str | None,
                               typer.Option(help="Hanya perangkat ini / only this device")] = None,
             limit: Annotated[int, typer.Option(help="Jumlah baris / rows")] = 30) -> None:
    """Riwayat perintah dan statusnya / command history and states."""
    c = open_central(readonly=True)
    try:
        rows = [r.as_dict() for r in c.commands.list(device=device, limit=limit)]
    finally:
        c.close()
    table(rows, ["id", "device", "name", "state", "created_at", "expires_at", "finished_at", "error"])


@app.command("import-central-db")
def import_central_db(path: Annotated[Path, typer.Argument(help="central.db lama / the old central.db")],
                      ) -> None:
    """Impor central.db lama ke basis data gateway / import an old central.db into the gateway's database.

    Kredensial, grup, konfigurasi, perintah, gangguan, peristiwa, peluncuran / credentials, groups,
    config, commands, faults, events, rollouts; rows already there are kept (safe to re-run)."""
    from central.upgrade import import_central_db as do_import

    if not path.is_file():
        raise fail(f"Tidak ada berkas / no such file: {path}")
    c = open_central()
    try:
        added = do_import(path, c.fleet)
    finally:
        c.close()
    for name, n in added.items():
        typer.echo(f"{name}: {n} baris ditambahkan / rows added")


# -- the watch ---------------------------------------------------------------------------------------

@app.command("watch")
def watch() -> None:
    """Jalankan pemantau armada / run the fleet watch.

    Kesehatan, perintah antrean, penerbitan konfigurasi / health, queued commands, config
    publishing, until interrupted; run one per site (or inside the gateway)."""
    import signal
    import threading

    from gateway.fleet.errors import BrokerUnavailable
    from gateway.fleet.service import FleetService

    c = open_central()
    svc = FleetService(c.db, c.registry, c.settings)
    try:
        svc.start()
    except BrokerUnavailable as exc:
        c.close()
        raise fail(f"Broker: {exc}", 1) from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    typer.echo("Pemantau berjalan / fleet watch running (Ctrl-C to stop)")
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        svc.stop()
        c.close()

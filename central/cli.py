"""`siaga admin ...`: run the fleet from the shell.

Every command reads ``central.yaml`` (``--config`` or ``$SIAGA_CENTRAL_CONFIG``).
Console text is Bahasa Indonesia first, English second. Exit codes: 0 done,
1 the unit or broker said no (failed, timed out, refused), 2 bad input.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Administrasi armada / fleet administration (devices, config, commands, health).",
                  no_args_is_help=True)
device_app = typer.Typer(help="Perangkat: tambah, nonaktifkan, cabut / devices: add, disable, revoke.",
                         no_args_is_help=True)
config_app = typer.Typer(help="Konfigurasi yang diinginkan / desired configuration.", no_args_is_help=True)
broker_app = typer.Typer(help="Konfigurasi broker Mosquitto / Mosquitto broker configuration.",
                         no_args_is_help=True)
app.add_typer(device_app, name="device")
app.add_typer(config_app, name="config")
app.add_typer(broker_app, name="broker")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="SIAGA_CENTRAL_CONFIG",
                                                help="central.yaml (berkas konfigurasi / config file)")]
_state: dict[str, Any] = {}


@app.callback()
def _main(config: ConfigOpt = None) -> None:
    _state["config"] = config


def _fail(msg: str, code: int = 2) -> typer.Exit:
    typer.echo(msg, err=True)
    return typer.Exit(code)


def _central() -> Any:
    from central.context import Central
    from central.errors import BadSetting, RegistryUnavailable
    from central.settings import load_settings

    try:
        return Central.open(load_settings(_state.get("config")))
    except BadSetting as exc:
        raise _fail(f"Konfigurasi tidak sah / invalid config: {exc}") from None
    except RegistryUnavailable as exc:
        raise _fail(str(exc), 1) from None


def _table(rows: list[dict[str, Any]], cols: list[str]) -> None:
    """Plain text table (no heavy deps; readable over SSH on a Pi)."""
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(v: Any) -> str:
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


# -- devices -------------------------------------------------------------------------------------

@device_app.command("add")
def device_add(
    device_id: Annotated[str, typer.Argument(help="Id perangkat = nama pengguna broker / device id")],
    profile: Annotated[str, typer.Option(help="field (kotak jalan / street box) | panel (meja / desk)")],
    location: Annotated[str | None, typer.Option(help="Alamat / place label, e.g. 'Jl. Pahlawan 12'")] = None,
    area: Annotated[str | None, typer.Option(help="Kecamatan/kelurahan (routing area)")] = None,
    lat: Annotated[float | None, typer.Option(help="Lintang / latitude")] = None,
    lon: Annotated[float | None, typer.Option(help="Bujur / longitude")] = None,
    group: Annotated[list[str] | None,
                     typer.Option(help="Grup (boleh berulang) / group (repeatable)")] = None,
    reload: Annotated[bool, typer.Option(help="Muat ulang broker / reload the broker")] = True,
) -> None:
    """Daftarkan perangkat / register a device.

    Membuat kredensial broker dan bundel kartu SD / creates its broker credentials and its
    SD-card bundle (unit.yaml + broker.password), then reloads the broker."""
    from pydantic import ValidationError

    from central.errors import CentralError
    from protocol.fleet import Profile
    from protocol.reports import Location

    try:
        prof = Profile(profile)
    except ValueError:
        raise _fail(f"Profil tidak sah / bad profile {profile!r}: field | panel") from None
    try:
        loc = Location(label=location, area=area, lat=lat, lon=lon) if any(
            v is not None for v in (location, area, lat, lon)) else None
    except ValidationError as exc:
        raise _fail(f"Lokasi tidak sah / bad location: {exc.errors()[0]['msg']}") from None
    c = _central()
    try:
        try:
            dev, bundle = c.prov.add_device(device_id, profile=prof, location=loc, groups=group or [],
                                            reload=False)
        except (CentralError, ValueError) as exc:
            raise _fail(f"Gagal / failed: {exc}") from None
        typer.echo(f"Perangkat ditambahkan / device added: {dev.id} ({dev.profile.value})")
        typer.echo(f"Bundel SD / SD bundle: {bundle.dir}  ({bundle.config.name}, {bundle.password.name})")
        _apply(c, reload)
    finally:
        c.close()


def _apply(c: Any, reload: bool = True) -> None:
    """Write passwd + ACL, reload; a failed reload is exit 1 with the files kept."""
    from central.broker.site import write_auth_files
    from central.errors import BrokerReloadError

    if not reload:
        write_auth_files(c.db, c.registry, c.settings.site_dir)
        typer.echo("Broker: berkas ditulis, tidak dimuat ulang / files written, not reloaded")
        return
    try:
        typer.echo(f"Broker: {c.prov.apply()}")
    except BrokerReloadError as exc:
        raise _fail(f"Berkas ditulis, broker tidak dimuat ulang / files written, broker not "
                    f"reloaded: {exc}", 1) from None


def _device_action(device_id: str, action: str) -> None:
    from central.errors import BrokerReloadError, CentralError

    c = _central()
    try:
        did = getattr(c.prov, action)(device_id)
    except BrokerReloadError as exc:
        raise _fail(f"Berkas ditulis, broker tidak dimuat ulang / files written, broker not reloaded: "
                    f"{exc}", 1) from None
    except CentralError as exc:
        raise _fail(str(exc)) from None
    finally:
        c.close()
    if action == "rotate":
        typer.echo(f"Bundel baru / new bundle: {did.dir}")
    else:
        typer.echo(f"{device_id}: {action} OK; broker: {did}")


@device_app.command("disable")
def device_disable(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")]) -> None:
    """Nonaktifkan perangkat / disable a device.

    Broker dan gateway menolaknya / broker and gateway refuse it; credentials are kept and
    `enable` restores them."""
    _device_action(device_id, "disable")


@device_app.command("enable")
def device_enable(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")]) -> None:
    """Aktifkan kembali / enable again."""
    _device_action(device_id, "enable")


@device_app.command("revoke")
def device_revoke(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")]) -> None:
    """Cabut kredensial untuk selamanya / revoke its credentials for good (`rotate` to re-issue)."""
    _device_action(device_id, "revoke")


@device_app.command("rotate")
def device_rotate(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")]) -> None:
    """Kata sandi dan bundel baru / new password and bundle (re-enables a revoked device)."""
    _device_action(device_id, "rotate")


@device_app.command("group")
def device_group(
    device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")],
    groups: Annotated[list[str] | None, typer.Argument(help="Grup baru (kosong: tanpa grup) / new groups "
                                                            "(none: no group)")] = None,
) -> None:
    """Atur grup perangkat / set a device's groups (replaces them)."""
    from central.errors import UnknownDevice

    c = _central()
    try:
        c.registry.get(device_id)
        c.prov.set_groups(device_id, groups or [])
        now = c.prov.groups_of(device_id)
    except UnknownDevice as exc:
        raise _fail(str(exc)) from None
    finally:
        c.close()
    typer.echo(f"{device_id}: grup / groups: {', '.join(now) or '-'}")


@device_app.command("show")
def device_show(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")],
                as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON / JSON output")] = False,
                ) -> None:
    """Rincian satu perangkat / one device in detail."""
    from central.errors import UnknownDevice

    c = _central()
    try:
        row = c.device_row(c.registry.get(device_id))
        row["presence"] = c.health.presence(device_id)
        row["drift"] = c.config.drift(device_id).as_dict()
        desired = c.config.desired(device_id)
        row["desired"] = desired.settings.model_dump(mode="json", exclude_none=True) if desired else None
        row["events"] = [f"{e['at']} {e['kind']} {e['detail']}".strip()
                         for e in c.health.events(device_id, limit=5)]
    except UnknownDevice as exc:
        raise _fail(str(exc)) from None
    finally:
        c.close()
    if as_json:
        typer.echo(json.dumps(row, indent=2, ensure_ascii=False, default=str))
        return
    for k, v in row.items():
        typer.echo(f"{k:14} {_cell(v)}")


@app.command("devices")
def devices(as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON / JSON output")] = False,
            ) -> None:
    """Tabel armada / fleet table.

    Daring/luring, terakhir terlihat, gangguan, konfigurasi / online or offline, last seen,
    open faults, config drift."""
    c = _central()
    try:
        rows = [c.device_row(d) for d in c.registry.list()]
    finally:
        c.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    for r in rows:
        r["state"] = ("dicabut/revoked" if r["revoked"] else "nonaktif/disabled" if not r["enabled"]
                      else "daring/online" if r["online"] else "luring/offline")
    _table(rows, ["id", "profile", "state", "last_seen", "faults", "config"])


@app.command("faults")
def faults(device: Annotated[str | None, typer.Option(help="Hanya perangkat ini / only this device")] = None,
           all_: Annotated[bool, typer.Option("--all", help="Termasuk yang sudah pulih / include closed")]
           = False) -> None:
    """Episode gangguan / fault episodes (open by default)."""
    c = _central()
    try:
        rows = c.health.faults(device, limit=500) if all_ else c.health.open_faults(device)
    finally:
        c.close()
    if not rows:
        typer.echo("Tidak ada gangguan / no faults")
        return
    _table(rows, ["id", "device", "fault", "detail", "opened_at", "closed_at"])


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
    from central.errors import BadSetting, CentralError, UnknownDevice
    from central.link import Link

    device = None
    if assignments and "=" not in assignments[0]:
        device, assignments = assignments[0], assignments[1:]
    if (device is None) == (group is None):
        raise _fail("Beri id perangkat atau --group / give a device id or --group (not both)")
    if not assignments:
        raise _fail("Tidak ada kunci=nilai / no key=value given")
    from central.desired import merge_settings, parse_assignments

    c = _central()
    try:
        changes = parse_assignments(assignments)
        targets = [device] if device else c.prov.members(group)
        if not targets:
            raise _fail(f"Grup kosong / empty group: {group}")
        for t in targets:
            c.registry.get(t)
            merge_settings({}, changes)  # reject a bad value before any version is used
        docs = {t: c.config.set(t, changes) for t in targets}
        if publish:
            with Link(c.settings.broker).start() as link:
                for t in targets:
                    c.config.publish(link, t)
    except (BadSetting, UnknownDevice) as exc:
        raise _fail(str(exc)) from None
    except CentralError as exc:
        raise _fail(f"Tersimpan, belum terbit / stored, not published: {exc}", 1) from None
    finally:
        c.close()
    for t, doc in docs.items():
        typer.echo(f"{t}: versi / version {doc.version} "
                   f"{'diterbitkan / published' if publish else 'tersimpan / stored'}")


@config_app.command("show")
def config_show(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")]) -> None:
    """Diinginkan vs dilaporkan / desired vs reported, and drift."""
    c = _central()
    try:
        c.registry.get(device_id)
        desired, reported, drift = (c.config.desired(device_id), c.config.reported(device_id),
                                    c.config.drift(device_id))
    except KeyError as exc:
        raise _fail(str(exc)) from None
    finally:
        c.close()
    typer.echo(f"drift: {drift.state}  desired v{drift.desired_version or '-'}  "
               f"reported v{drift.reported_version if drift.reported_version is not None else '-'}")
    if drift.refused_version is not None:
        typer.echo(f"ditolak / refused v{drift.refused_version}: {drift.error}")
    d = desired.settings.model_dump(mode="json", exclude_none=True) if desired else {}
    r = reported.settings.model_dump(mode="json", exclude_none=True) if reported else {}
    _table([{"key": k, "desired": d.get(k), "reported": r.get(k), "same": d.get(k) == r.get(k)}
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
    _table(rows, ["field", "value"])


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
    from central.commands import CmdState, run_command
    from central.db import utcnow
    from central.errors import BrokerUnavailable, CommandTimeout, UnknownDevice
    from central.link import Link

    try:
        args = _parse_args(arg or [])
        if lines is not None:
            args["lines"] = lines
        expiry = parse_duration(expires)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    c = _central()
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
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(f"Perintah tidak sah / invalid command: {exc}") from None
    except CommandTimeout as exc:
        raise _fail(f"Waktu habis / timed out: {exc}", 1) from None
    except BrokerUnavailable as exc:
        raise _fail(f"Broker: {exc}", 1) from None
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
    c = _central()
    try:
        rows = [r.as_dict() for r in c.commands.list(device=device, limit=limit)]
    finally:
        c.close()
    _table(rows, ["id", "device", "name", "state", "created_at", "expires_at", "finished_at", "error"])


# -- broker ----------------------------------------------------------------------------------------

@broker_app.command("gen-config")
def broker_gen_config() -> None:
    """Tulis mosquitto.conf, passwd dan acl situs / write the site's mosquitto.conf, passwd and acl."""
    from central.broker.site import write_auth_files, write_broker_config

    c = _central()
    try:
        cfg = c.settings.mosquitto
        conf = write_broker_config(cfg, c.settings.site_dir)
        paths = write_auth_files(c.db, c.registry, c.settings.site_dir)
    finally:
        c.close()
    typer.echo(f"Ditulis / written: {conf}, {paths.passwd}, {paths.acl}")
    if not (cfg.tls_cert and cfg.tls_key):
        typer.echo("PERINGATAN / WARNING: tanpa TLS / no TLS listener (set mosquitto.tls_cert/tls_key)",
                   err=True)


@broker_app.command("user")
def broker_user(
    name: Annotated[str, typer.Argument(help="Pengguna layanan / service user, e.g. gateway, admin")],
    access: Annotated[str, typer.Option(help="read | write | readwrite on siaga/v1/#")] = "readwrite",
    password_file: Annotated[Path | None, typer.Option(help="Tulis sandi ke berkas ini (0600) / write the "
                                                            "password to this file")] = None,
) -> None:
    """Buat/atur ulang pengguna layanan / create or reset a service user."""
    if access not in ("read", "write", "readwrite"):
        raise _fail(f"Akses tidak sah / bad access {access!r}")
    c = _central()
    try:
        try:
            pw = c.prov.add_service(name, access=access, reload=False)
        except ValueError as exc:
            raise _fail(str(exc)) from None
        if password_file:
            password_file.touch(mode=0o600)
            password_file.chmod(0o600)
            password_file.write_text(pw + "\n")
            typer.echo(f"Sandi ditulis / password written: {password_file}")
        else:
            typer.echo(pw)
        _apply(c)
    finally:
        c.close()


@broker_app.command("reload")
def broker_reload() -> None:
    """Tulis ulang passwd/acl dan muat ulang broker / rewrite passwd/acl and reload the broker."""
    c = _central()
    try:
        _apply(c)
    finally:
        c.close()


# -- the watch ---------------------------------------------------------------------------------------

@app.command("watch")
def watch() -> None:
    """Jalankan pemantau armada / run the fleet watch.

    Kesehatan, perintah antrean, penerbitan konfigurasi / health, queued commands, config
    publishing, until interrupted; run one per site (or inside the gateway)."""
    import signal
    import threading

    from central.errors import BrokerUnavailable
    from central.service import FleetService

    c = _central()
    svc = FleetService(c.db, c.registry, c.settings)
    try:
        svc.start()
    except BrokerUnavailable as exc:
        c.close()
        raise _fail(f"Broker: {exc}", 1) from None
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

"""`siaga admin device ...`: add, disable, enable, revoke, rotate, group, show."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from central.cli_common import apply_broker, cell, fail, open_central

device_app = typer.Typer(help="Perangkat: tambah, nonaktifkan, cabut / devices: add, disable, revoke.",
                         no_args_is_help=True)


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

    from gateway.fleet.errors import FleetError
    from protocol.fleet import Profile
    from protocol.reports import Location

    try:
        prof = Profile(profile)
    except ValueError:
        raise fail(f"Profil tidak sah / bad profile {profile!r}: field | panel") from None
    try:
        loc = Location(label=location, area=area, lat=lat, lon=lon) if any(
            v is not None for v in (location, area, lat, lon)) else None
    except ValidationError as exc:
        raise fail(f"Lokasi tidak sah / bad location: {exc.errors()[0]['msg']}") from None
    c = open_central()
    try:
        try:
            dev, bundle = c.prov.add_device(device_id, profile=prof, location=loc, groups=group or [],
                                            reload=False)
        except (FleetError, ValueError) as exc:
            raise fail(f"Gagal / failed: {exc}") from None
        typer.echo(f"Perangkat ditambahkan / device added: {dev.id} ({dev.profile.value})")
        typer.echo(f"Bundel SD / SD bundle: {bundle.dir}  ({bundle.config.name}, {bundle.password.name})")
        apply_broker(c, reload)
    finally:
        c.close()


def _device_action(device_id: str, action: str) -> None:
    from central.errors import BrokerReloadError, FleetError

    c = open_central()
    try:
        did = getattr(c.prov, action)(device_id)
    except BrokerReloadError as exc:
        raise fail(f"Berkas ditulis, broker tidak dimuat ulang / files written, broker not reloaded: "
                    f"{exc}", 1) from None
    except FleetError as exc:
        raise fail(str(exc)) from None
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
    from gateway.fleet.errors import UnknownDevice

    c = open_central()
    try:
        c.registry.get(device_id)
        c.prov.set_groups(device_id, groups or [])
        now = c.prov.groups_of(device_id)
    except UnknownDevice as exc:
        raise fail(str(exc)) from None
    finally:
        c.close()
    typer.echo(f"{device_id}: grup / groups: {', '.join(now) or '-'}")


@device_app.command("show")
def device_show(device_id: Annotated[str, typer.Argument(help="Id perangkat / device id")],
                as_json: Annotated[bool, typer.Option("--json", help="Keluaran JSON / JSON output")] = False,
                ) -> None:
    """Rincian satu perangkat / one device in detail."""
    from gateway.fleet.errors import UnknownDevice

    c = open_central(readonly=True)
    try:
        row = c.device_row(c.registry.get(device_id))
        row["presence"] = c.health.presence(device_id)
        row["drift"] = c.config.drift(device_id).as_dict()
        desired = c.config.desired(device_id)
        row["desired"] = (desired.settings.model_dump(mode="json", exclude_none=True, exclude={"v"})
                          if desired else None)
        row["events"] = [f"{e['at']} {e['kind']} {e['detail']}".strip()
                         for e in c.health.events(device_id, limit=5)]
    except UnknownDevice as exc:
        raise fail(str(exc)) from None
    finally:
        c.close()
    if as_json:
        typer.echo(json.dumps(row, indent=2, ensure_ascii=False, default=str))
        return
    for k, v in row.items():
        typer.echo(f"{k:14} {cell(v)}")

"""Provision the demo site the way an admin provisions a real one.

`siaga admin` does the same steps: migrate the gateway database (the device
registry lives there), create the gateway's broker user, add every unit
(registry row, per-device password, SD-card bundle), and write the broker's
password file and ACL. The demo's broker then runs on those files, so units
speak only under their own topic branch, as in production.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gateway.fleet.errors import DeviceExists
from protocol.fleet import Profile
from protocol.reports import Location
from siaga.demo.units import FIELD_BOXES, PANELS


def provision(central_yaml: Path, gateway_db_url: str) -> str:
    """Provision units and the gateway user; return the gateway's password."""
    from central.context import Central
    from central.settings import load_settings
    central = Central.open(load_settings(central_yaml), actor="siaga-demo", migrate=True)
    try:
        password = central.prov.add_service("gateway", access="readwrite", reload=False)
        units = [(d, Profile.FIELD, Location(label=label, area=area, lat=lat, lon=lon))
                 for d, label, area, lat, lon in FIELD_BOXES]
        units += [(d, Profile.PANEL, Location(label="Meja operator 112")) for d in PANELS]
        for device_id, profile, location in units:
            # with --keep, units provisioned by an earlier run keep their bundle
            with contextlib.suppress(DeviceExists):
                central.prov.add_device(device_id, profile=profile, location=location, reload=False)
        # passwd + acl under site_dir; no reload: the broker starts on them next
        central.prov.write_files()
    finally:
        central.close()
    return password

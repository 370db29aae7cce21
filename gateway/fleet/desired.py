"""Desired / reported configuration: versioned, retained, per device.

A group change is expanded into one desired document per member, each with
that member's next version, so a unit only ever compares its own numbers.
Versions only go up: the next one is above everything seen for the device
(desired, reported, refused), so a unit restored from an old SD card image
still sees a newer document. Drift is ``desired.version != reported.version``
or a refusal of the current desired version.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.fleet.errors import BadSetting
from gateway.fleet.link import Link
from gateway.fleet.sql import FleetDB, iso, parse_iso, utcnow
from protocol.codec import encode
from protocol.fleet import DesiredConfig, ReportedConfig, UnitSettings
from protocol.topics import DeviceTopic, device_topic

log = logging.getLogger(__name__)

#: short keys accepted on the command line -> UnitSettings field
ALIASES = {"heartbeat": "heartbeat_s", "centre": "centre_number", "button": "button_categories",
           "buttons": "button_categories", "self_test": "self_test_daily_at", "firmware": "firmware_version"}


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["volume=80", "button.sos=medical"]`` -> a partial settings dict.
    Values are read as YAML scalars (``80`` is a number); ``key=`` (empty)
    or ``key=null`` removes the key from the desired document."""
    out: dict[str, Any] = {}
    fields = UnitSettings.model_fields
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadSetting(f"harus kunci=nilai / must be key=value: {pair!r}")
        head, dot, sub = key.partition(".")
        head = ALIASES.get(head, head)
        if head not in fields:
            raise BadSetting(f"kunci tidak dikenal / unknown key {key!r}; "
                             f"known: {', '.join(fields)}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if head in ("centre_number", "self_test_daily_at", "log_level", "firmware_version",
                    "firmware_url") and value is not None:
            value = raw.strip()  # keep '+62...', '06:30' and '2.0' as text
        if dot:
            if head != "button_categories":
                raise BadSetting(f"{key!r}: only button.<name>=<category> takes a sub-key")
            out.setdefault(head, {})[sub] = value
        else:
            out[head] = value
    return out


def merge_settings(current: dict[str, Any], changes: dict[str, Any]) -> UnitSettings:
    """Apply ``changes`` to ``current`` and validate; BadSetting names the key."""
    merged = dict(current)
    for k, v in changes.items():
        if v is None:
            merged.pop(k, None)
        elif k == "button_categories" and isinstance(v, dict):
            buttons = dict(merged.get(k) or {})
            for name, cat in v.items():
                if cat is None:
                    buttons.pop(name, None)
                else:
                    buttons[name] = cat
            merged[k] = buttons or None
        else:
            merged[k] = v
    try:
        return UnitSettings.model_validate({k: v for k, v in merged.items() if v is not None})
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        raise BadSetting(f"nilai tidak sah / bad value for {loc}: {e['msg']}") from None


@dataclass(frozen=True, slots=True)
class Drift:
    device: str
    desired_version: int | None
    reported_version: int | None
    refused_version: int | None
    error: str | None
    published: bool
    issued_at: datetime | None
    reported_at: datetime | None

    @property
    def state(self) -> str:
        if self.desired_version is None:
            return "none"
        if self.refused_version == self.desired_version:
            return "refused"
        if not self.published:
            return "unpublished"
        if self.reported_version == self.desired_version:
            return "in_sync"
        return "pending"

    @property
    def in_sync(self) -> bool:
        return self.state in ("in_sync", "none")

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "state": self.state, "desired_version": self.desired_version,
                "reported_version": self.reported_version, "refused_version": self.refused_version,
                "error": self.error, "issued_at": iso(self.issued_at),
                "reported_at": iso(self.reported_at)}


class ConfigService:
    """Stores desired documents, publishes them, records reports."""

    def __init__(self, db: FleetDB) -> None:
        self.db = db

    def desired(self, device: str) -> DesiredConfig | None:
        r = self.db.one("SELECT * FROM fleet_desired WHERE device=?", (device,))
        if r is None:
            return None
        return DesiredConfig(version=r["version"], settings=UnitSettings.model_validate_json(
            r["settings"]), issued_at=parse_iso(r["issued_at"]))

    def set(self, device: str, changes: dict[str, Any]) -> DesiredConfig:
        """Merge ``changes`` into the device's desired settings under a new
        version and store it (unpublished until :meth:`publish`)."""
        with self.db.tx() as c:
            row = c.one("SELECT version, settings FROM fleet_desired WHERE device=?", (device,))
            current = json.loads(row["settings"]) if row else {}
            settings = merge_settings(current, changes)
            rep = c.one("SELECT version, refused_version FROM fleet_reported WHERE device=?", (device,))
            floor = max([row["version"] if row else 0]
                        + ([rep["version"], rep["refused_version"] or 0] if rep else []))
            doc = DesiredConfig(version=floor + 1, settings=settings, issued_at=utcnow())
            c.execute(
                "INSERT INTO fleet_desired (device, version, settings, issued_at, published_at) "
                "VALUES (?, ?, ?, ?, NULL) ON CONFLICT(device) DO UPDATE SET version=excluded.version,"
                " settings=excluded.settings, issued_at=excluded.issued_at, published_at=NULL",
                (device, doc.version, settings.model_dump_json(exclude_none=True),
                 iso(doc.issued_at)),
            )
        log.info("desired config v%d for %s", doc.version, device)
        return doc

    def publish(self, link: Link, device: str, *, timeout: float = 10.0) -> DesiredConfig | None:
        """Publish the stored desired document retained (QoS 1) and mark it
        published once the broker has it."""
        doc = self.desired(device)
        if doc is None:
            return None
        link.publish(device_topic(device, DeviceTopic.CONFIG_DESIRED), encode(doc), qos=1,
                     retain=True, timeout=timeout)
        with self.db.tx() as c:
            c.execute("UPDATE fleet_desired SET published_at=? WHERE device=? AND version=?",
                      (iso(utcnow()), device, doc.version))
        return doc

    def unpublished(self) -> list[str]:
        rows = self.db.query("SELECT device FROM fleet_desired WHERE published_at IS NULL")
        return [r["device"] for r in rows]

    def record_reported(self, rep: ReportedConfig) -> None:
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO fleet_reported (device, version, settings, refused_version, error, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET version=excluded.version,"
                " settings=excluded.settings, refused_version=excluded.refused_version,"
                " error=excluded.error, received_at=excluded.received_at",
                (rep.device, rep.version, rep.settings.model_dump_json(exclude_none=True),
                 rep.refused_version, rep.error, iso(utcnow())),
            )
        if rep.refused_version is not None:
            log.warning("device %s refused config v%d: %s", rep.device, rep.refused_version, rep.error)

    def reported(self, device: str) -> ReportedConfig | None:
        r = self.db.one("SELECT * FROM fleet_reported WHERE device=?", (device,))
        if r is None:
            return None
        return ReportedConfig(device=device, version=r["version"],
                              settings=UnitSettings.model_validate_json(r["settings"]),
                              refused_version=r["refused_version"], error=r["error"])

    def drift(self, device: str) -> Drift:
        d = self.db.one("SELECT * FROM fleet_desired WHERE device=?", (device,))
        r = self.db.one("SELECT * FROM fleet_reported WHERE device=?", (device,))
        return Drift(
            device=device,
            desired_version=d["version"] if d else None,
            reported_version=r["version"] if r else None,
            refused_version=r["refused_version"] if r else None,
            error=r["error"] if r else None,
            published=bool(d and d["published_at"]),
            issued_at=parse_iso(d["issued_at"]) if d else None,
            reported_at=parse_iso(r["received_at"]) if r else None,
        )

    def heartbeats(self) -> dict[str, int]:
        """``{device: heartbeat_s}`` in force for every device that has one
        (reported, else desired): one read for the whole fleet's lateness tick."""
        out: dict[str, int] = {}
        for table in ("fleet_desired", "fleet_reported"):  # reported wins
            for r in self.db.query(f"SELECT device, settings FROM {table}"):  # noqa: S608
                hb = json.loads(r["settings"]).get("heartbeat_s")
                if hb:
                    out[r["device"]] = int(hb)
        return out

    def heartbeat_s(self, device: str) -> int | None:
        """The heartbeat interval in force (reported, else desired)."""
        for table in ("fleet_reported", "fleet_desired"):
            r = self.db.one(f"SELECT settings FROM {table} WHERE device=?", (device,))  # noqa: S608
            if r:
                hb = json.loads(r["settings"]).get("heartbeat_s")
                if hb:
                    return int(hb)
        return None


"""What a batch of the intake reads before it writes: its devices' rows, which
of its incident and call ids are already stored, and keys for its new
incidents.

On PostgreSQL the four reads (and the transaction's ``BEGIN``) go to the
server in one round trip (psycopg's pipeline mode), where each took one of
its own: on a crowded host every round trip waits for the gateway and its
backend to be scheduled again, and a unit's Ack waits for all of them. The
writes and the ``COMMIT`` are the second and last round trip
(``Database.pipeline``). On SQLite the reads are calls into the library,
and the keys come after the largest one (``intake.new_pks``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.db import invalidated_on_error
from gateway.store.models import Call, Device, Incident

#: what the intake reads of a device row
DEVICE_COLS = (Device.id, Device.enabled, Device.area, Device.label, Device.lat, Device.lon)


class DeviceRow(NamedTuple):
    id: str
    enabled: bool
    area: str | None
    label: str | None
    lat: float | None
    lon: float | None


@dataclass
class Known:
    devices: dict[str, Any]
    #: incident id -> (its device, its case number)
    incidents: dict[str, tuple[str | None, str | None]]
    calls: set[str]
    #: PostgreSQL: a key for each incident id that is new (not stored, from an
    #: enabled device), taken from the sequence in the same round trip; None
    #: on SQLite (intake.new_pks takes them later)
    keys: dict[str, int] | None = None


def read(s: Session, devices: Iterable[str], incidents: list[tuple[str, str]],
         calls: list[str]) -> Known:
    """``incidents``: (id, device) of the batch's incidents, in batch order."""
    if s.get_bind().dialect.name == "postgresql":
        return _read_pipelined(s, sorted(set(devices)), incidents, calls)
    devs = {d.id: d for d in s.execute(select(*DEVICE_COLS).where(Device.id.in_(set(devices))))}
    ids = [i for i, _ in incidents]
    known_inc = {r.id: (r.device_id, r.case_no) for r in s.execute(
        select(Incident.id, Incident.device_id, Incident.case_no).where(Incident.id.in_(ids)))} \
        if ids else {}
    known_calls = set(s.scalars(select(Call.id).where(Call.id.in_(calls)))) if calls else set()
    return Known(devs, known_inc, known_calls)


def _read_pipelined(s: Session, devices: list[str], incidents: list[tuple[str, str]],
                    calls: list[str]) -> Known:
    conn = s.connection()
    raw = conn.connection.driver_connection
    assert raw is not None
    first: dict[str, str] = {}
    for i, d in incidents:  # each id once, with the device of its first copy
        first.setdefault(i, d)
    with invalidated_on_error(conn):
        return _pipelined(raw, devices, first, calls)


def _pipelined(raw: Any, devices: list[str], first: dict[str, str], calls: list[str]) -> Known:
    with raw.pipeline():
        cur_d = raw.execute("SELECT id, enabled, area, label, lat, lon FROM devices "
                            "WHERE id = ANY(%s)", [devices])
        cur_i = raw.execute("SELECT id, device_id, case_no FROM incidents WHERE id = ANY(%s)",
                            [list(first)]) if first else None
        cur_c = raw.execute("SELECT id FROM calls WHERE id = ANY(%s)", [calls]) if calls else None
        # one key per id the intake will insert: not stored yet, from an enabled device
        # (a duplicate or a refused message takes none, so case numbers keep no gaps)
        cur_k = raw.execute(
            "SELECT u.id, nextval(pg_get_serial_sequence('incidents', 'pk')) "
            "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS u(id, dev, n) "
            "JOIN devices d ON d.id = u.dev AND d.enabled "
            "WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = u.id) ORDER BY u.n",
            [list(first), list(first.values())]) if first else None
        devs = {r[0]: DeviceRow(*r) for r in cur_d.fetchall()}
        known_inc = {r[0]: (r[1], r[2]) for r in cur_i.fetchall()} if cur_i else {}
        known_calls = {r[0] for r in cur_c.fetchall()} if cur_c else set()
        keys = {r[0]: r[1] for r in cur_k.fetchall()} if cur_k else {}
    return Known(devs, known_inc, known_calls, keys)

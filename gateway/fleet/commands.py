"""Commands to units: MQTT 5 request/response, a recorded state machine,
and a queue for units that are offline.

States: ``queued -> sent -> delivered -> succeeded | failed | timed_out``,
and ``expired`` for a queued command whose expiry passed before it could be
sent (or that the unit refused as expired). What each step means, honestly:

- ``sent``: the broker acknowledged the PUBLISH (PUBACK). The broker has it,
  no more.
- ``delivered``: sent while the unit's retained status said ``online`` (the
  broker forwards at once to the live session), or the unit has replied.
  MQTT has no per-message receipt from the subscriber to the publisher, so
  this is the closest honest signal short of the reply itself.

Every command carries its ULID (``Command.id``, also the correlation data)
and ``expires_at``; the unit keeps the ids it ran and never runs a command
twice or after its expiry. The MQTT 5 message expiry interval is set too, so
the broker drops a stale command from an offline unit's session by itself.
"""

from __future__ import annotations

import builtins
import enum
import json
import logging
import math
import queue
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.fleet.errors import BrokerUnavailable, CommandTimeout, UnknownCommand
from gateway.fleet.link import Link
from gateway.fleet.sql import FleetDB, dumps, iso, parse_iso, utcnow
from protocol.codec import decode, encode
from protocol.errors import PayloadError
from protocol.fleet import Command, CommandResult, CommandStatus
from protocol.topics import DeviceTopic, device_topic, parse_device_topic

log = logging.getLogger(__name__)


class CmdState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"


FINAL = {CmdState.SUCCEEDED, CmdState.FAILED, CmdState.TIMED_OUT, CmdState.EXPIRED}


@dataclass(frozen=True, slots=True)
class CommandRecord:
    id: str
    device: str
    name: str
    args: dict[str, Any]
    state: CmdState
    created_at: datetime
    expires_at: datetime | None
    timeout_s: float
    sent_at: datetime | None
    delivered_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "device": self.device, "name": self.name, "args": self.args,
                "state": self.state.value, "created_at": iso(self.created_at),
                "expires_at": iso(self.expires_at), "timeout_s": self.timeout_s,
                "sent_at": iso(self.sent_at), "delivered_at": iso(self.delivered_at),
                "finished_at": iso(self.finished_at), "result": self.result, "error": self.error}


def _record(r: dict[str, Any]) -> CommandRecord:
    return CommandRecord(
        id=r["id"], device=r["device"], name=r["name"], args=json.loads(r["args"]),
        state=CmdState(r["state"]), created_at=parse_iso(r["created_at"]),  # type: ignore[arg-type]
        expires_at=parse_iso(r["expires_at"]), timeout_s=r["timeout_s"],
        sent_at=parse_iso(r["sent_at"]), delivered_at=parse_iso(r["delivered_at"]),
        finished_at=parse_iso(r["finished_at"]),
        result=json.loads(r["result"]) if r["result"] else None, error=r["error"],
    )


def publish_properties(cmd: Command, response_topic: str, now: datetime) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = response_topic
    props.CorrelationData = cmd.id.encode()
    if cmd.expires_at is not None:
        props.MessageExpiryInterval = max(1, math.ceil((cmd.expires_at - now).total_seconds()))
    return props


class CommandService:
    """The command table and its transitions."""

    def __init__(self, db: FleetDB) -> None:
        self.db = db

    def create(self, device: str, name: str, args: dict[str, Any] | None = None, *,
               timeout_s: float, expires_at: datetime | None = None) -> CommandRecord:
        now = utcnow()
        cmd_id = Command(name=name, args=args or {}).id  # validates name and args
        with self.db.tx() as c:
            c.execute(
                "INSERT INTO fleet_commands (id, device, name, args, state, created_at, expires_at,"
                " timeout_s)"
                " VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
                (cmd_id, device, name, dumps(args or {}), iso(now), iso(expires_at), timeout_s))
        return self.get(cmd_id)

    def get(self, cmd_id: str) -> CommandRecord:
        r = self.db.one("SELECT * FROM fleet_commands WHERE id=?", (cmd_id,))
        if r is None:
            raise UnknownCommand(f"perintah tidak dikenal / unknown command: {cmd_id}")
        return _record(r)

    def list(self, *, device: str | None = None, limit: int = 50) -> list[CommandRecord]:
        if device:
            rows = self.db.query("SELECT * FROM fleet_commands WHERE device=? ORDER BY id DESC LIMIT ?",
                                 (device, limit))
        else:
            rows = self.db.query("SELECT * FROM fleet_commands ORDER BY id DESC LIMIT ?", (limit,))
        return [_record(r) for r in rows]

    def _move(self, cmd_id: str, to: CmdState, *, frm: tuple[CmdState, ...], **cols: Any) -> bool:
        """Transition only from the listed states; False when it did not apply."""
        sets = ", ".join(["state=?"] + [f"{k}=?" for k in cols])
        marks = ",".join("?" * len(frm))
        with self.db.tx() as c:
            cur = c.execute(f"UPDATE fleet_commands SET {sets} WHERE id=? AND state IN ({marks})",  # noqa: S608
                            (to.value, *cols.values(), cmd_id, *(s.value for s in frm)))
            return cur.rowcount == 1

    def send(self, link: Link, cmd_id: str, *, unit_online: bool, timeout: float = 10.0) -> CommandRecord:
        """Publish a queued command with its reply route; expired ones are not sent.

        The row is claimed (queued -> sent) before publishing, so the CLI and
        the fleet service can never both send the same command; a publish the
        broker never acknowledged puts it back to queued."""
        rec = self.get(cmd_id)
        now = utcnow()
        if rec.expires_at and rec.expires_at <= now:
            self._move(cmd_id, CmdState.EXPIRED, frm=(CmdState.QUEUED,), finished_at=iso(now),
                       error="expired before it could be sent")
            return self.get(cmd_id)
        if not self._move(cmd_id, CmdState.SENT, frm=(CmdState.QUEUED,), sent_at=iso(now)):
            return self.get(cmd_id)  # someone else sent it, or it is already final
        cmd = Command(id=rec.id, name=rec.name, args=rec.args, issued_at=now,
                      expires_at=rec.expires_at or now + timedelta(seconds=rec.timeout_s))
        res_topic = device_topic(rec.device, DeviceTopic.CMD_RES)
        try:
            link.publish(device_topic(rec.device, DeviceTopic.CMD), encode(cmd), qos=1,
                         properties=publish_properties(cmd, res_topic, now), timeout=timeout)
        except BrokerUnavailable:
            self._move(cmd_id, CmdState.QUEUED, frm=(CmdState.SENT,), sent_at=None)
            raise
        with self.db.tx() as c:  # the clock of the reply timeout starts at the PUBACK
            c.execute("UPDATE fleet_commands SET sent_at=? WHERE id=? AND state='sent'",
                      (iso(utcnow()), cmd_id))
        if unit_online:
            self.mark_delivered(cmd_id)
        return self.get(cmd_id)

    def mark_delivered(self, cmd_id: str) -> None:
        self._move(cmd_id, CmdState.DELIVERED, frm=(CmdState.SENT,), delivered_at=iso(utcnow()))

    def record_result(self, res: CommandResult, correlation: bytes | None = None) -> CommandRecord | None:
        """Apply a unit's reply; returns the updated record, None when the
        reply matches no command of that device (logged, not applied)."""
        cmd_id = res.command_id
        if correlation is not None and correlation.decode(errors="replace") != cmd_id:
            log.warning("reply from %s: correlation data %r differs from command_id %s",
                        res.device, correlation[:40], cmd_id)
        r = self.db.one("SELECT device FROM fleet_commands WHERE id=?", (cmd_id,))
        if r is None or r["device"] != res.device:
            log.warning("reply from %s for unknown command %s: dropped with this notice",
                        res.device, cmd_id)
            return None
        now = iso(utcnow())
        to = {CommandStatus.OK: CmdState.SUCCEEDED, CommandStatus.ERROR: CmdState.FAILED,
              CommandStatus.EXPIRED: CmdState.EXPIRED, CommandStatus.DUPLICATE: CmdState.FAILED}[res.status]
        error = res.error or ("unit had already run this command" if res.status == CommandStatus.DUPLICATE
                              else None)
        # a late reply still tells the truth about what happened on the unit
        applied = self._move(cmd_id, to, frm=(CmdState.QUEUED, CmdState.SENT, CmdState.DELIVERED,
                                              CmdState.TIMED_OUT),
                             finished_at=now, result=dumps(res.result), error=error)
        if applied:
            with self.db.tx() as c:
                c.execute("UPDATE fleet_commands SET delivered_at=COALESCE(delivered_at, ?) WHERE id=?",
                          (now, cmd_id))
        return self.get(cmd_id)

    def time_out(self, cmd_id: str) -> bool:
        return self._move(cmd_id, CmdState.TIMED_OUT, frm=(CmdState.SENT, CmdState.DELIVERED),
                          finished_at=iso(utcnow()), error="no reply within the timeout")

    def sweep(self, now: datetime | None = None) -> builtins.list[CommandRecord]:
        """Expire queued commands past their expiry; time out sent ones past
        their timeout. Returns the records that changed."""
        now = now or utcnow()
        changed = []
        for r in self.db.query("SELECT * FROM fleet_commands WHERE state IN ('queued','sent','delivered')"):
            rec = _record(r)
            if rec.state == CmdState.QUEUED:
                if rec.expires_at and rec.expires_at <= now and self._move(
                        rec.id, CmdState.EXPIRED, frm=(CmdState.QUEUED,), finished_at=iso(now),
                        error="expired before the unit came online"):
                    changed.append(self.get(rec.id))
            elif rec.sent_at and rec.sent_at + timedelta(seconds=rec.timeout_s) <= now and self._move(
                    rec.id, CmdState.TIMED_OUT, frm=(CmdState.SENT, CmdState.DELIVERED),
                    finished_at=iso(now), error=f"no reply within {rec.timeout_s:g}s"):
                changed.append(self.get(rec.id))
        return changed

    def due(self, online: set[str]) -> builtins.list[CommandRecord]:
        """Queued commands whose unit is online now, oldest first."""
        rows = self.db.query("SELECT * FROM fleet_commands WHERE state='queued' ORDER BY id")
        return [_record(r) for r in rows if r["device"] in online]


def run_command(svc: CommandService, link: Link, device: str, name: str, args: dict[str, Any], *,
                timeout_s: float) -> CommandRecord:
    """Send one command now and wait for its reply (the CLI's ``cmd``).

    Subscribes to the unit's reply topic first, so a fast reply cannot be
    missed; whether the unit is online comes from its ``devices`` row (the
    ingest's presence). Raises CommandTimeout (the record says ``timed_out``)
    when the unit does not answer in time; the command expires on the unit at
    the same instant, so a unit that comes back later never runs it.
    """
    from gateway.fleet.health import presence

    link.subscribe(device_topic(device, DeviceTopic.CMD_RES))
    rec = svc.create(device, name, args, timeout_s=timeout_s,
                     expires_at=utcnow() + timedelta(seconds=timeout_s))
    p = presence(svc.db, device) or {}
    status = ("online" if p.get("online") else "offline") if p.get("last_status") else None
    rec = svc.send(link, rec.id, unit_online=status == "online")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            msg = link.inbox.get(timeout=min(0.2, max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            continue
        _handle(svc, msg)
        rec = svc.get(rec.id)
        if rec.state in FINAL:
            return rec
    svc.time_out(rec.id)
    rec = svc.get(rec.id)
    if rec.state in FINAL and rec.state != CmdState.TIMED_OUT:
        return rec
    hint = {"offline": "perangkat luring / unit is offline; use --queue",
            None: "status perangkat tidak diketahui / unit status unknown"}.get(status, "unit is online")
    raise CommandTimeout(f"tidak ada jawaban / no reply from {device} within {timeout_s:g}s "
                         f"({hint}; command {rec.id}, state {rec.state.value})")


def _handle(svc: CommandService, msg: Any) -> None:
    """Apply one reply; a bad one is logged and dropped."""
    try:
        parsed = parse_device_topic(msg.topic)
        if parsed.kind == DeviceTopic.CMD_RES:
            res = decode(CommandResult, msg.payload)
            if res.device != parsed.device:
                raise PayloadError("device_mismatch", f"{res.device} on {parsed.device}'s topic")
            svc.record_result(res, msg.correlation)
    except (ValueError, PayloadError) as exc:
        log.warning("rejected message on %s: %s", msg.topic, exc)

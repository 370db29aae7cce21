"""The unit side of fleet management: desired/reported config and commands.

Why so careful: a command may be delivered twice (QoS 1, persistent
session) or long after it was issued; its id is recorded durably *before*
it runs, so ``reboot`` can never loop, and an expired one is never run.
A desired config applies only when its version is newer than the one in
force; it is persisted in SQLite so a reboot keeps it, and the retained
document is re-read on every reconnect by the subscription itself.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.base import MAX_COUNT
from protocol.codec import decode, encode, peek
from protocol.errors import PayloadError
from protocol.fleet import (
    Command,
    CommandName,
    CommandResult,
    CommandStatus,
    DesiredConfig,
    LogLevel,
    ReportedConfig,
    UnitSettings,
)
from protocol.ids import ULID_PATTERN
from protocol.topics import PREFIX, DeviceTopic

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.clock import Clock
    from firmware.agent.config import UnitConfig
    from firmware.agent.link import Link
    from firmware.agent.modem import ModemPort
    from firmware.agent.outbox import Outbox
    from firmware.agent.store import Store
    from firmware.agent.updater import Updater

log = logging.getLogger(__name__)


LOG_LINE_MAX = 300
LOGS_MAX_BYTES = 48 * 1024


@functools.cache
def command_args() -> dict[str, type[BaseModel]]:
    """Each command's argument model, built on the first command: an idle
    unit never pays for them (~0.8 MB resident)."""

    class _NoArgs(BaseModel):
        model_config = ConfigDict(extra="forbid")

    class _LogsArgs(_NoArgs):
        lines: int = Field(50, ge=1, le=500)

    class _LevelArgs(_NoArgs):
        level: LogLevel

    class _UpdateArgs(_NoArgs):
        version: str = Field(pattern=r"^\d{1,6}(\.\d{1,6}){0,3}$", max_length=32)
        url: str | None = Field(None, pattern=r"^https?://", max_length=300)

    return {
        CommandName.PING: _NoArgs, CommandName.SELF_TEST: _NoArgs, CommandName.REBOOT: _NoArgs,
        CommandName.RESTART_AGENT: _NoArgs, CommandName.MODEM_RESET: _NoArgs,
        CommandName.SET_LOG_LEVEL: _LevelArgs, CommandName.LOGS: _LogsArgs,
        CommandName.FLUSH_OUTBOX: _NoArgs, CommandName.UPDATE: _UpdateArgs,
    }


def initial_settings(cfg: UnitConfig, store: Store) -> tuple[int, UnitSettings]:
    """The settings in force: the persisted desired config over the file's."""
    base = UnitSettings(heartbeat_s=cfg.heartbeat_s, button_categories=cfg.category_map(),
                        volume=cfg.volume, centre_number=cfg.centre_number, log_level=cfg.log_level,
                        self_test_daily_at=cfg.self_test_daily_at, operator=cfg.operator)
    version = int(store.get_meta("config_version", "0") or 0)
    raw = store.get_meta("config_settings")
    if raw:
        try:
            base = merge(base, UnitSettings.model_validate_json(raw))
        except ValidationError as exc:
            log.error("stored config unreadable, using the file's: %s", exc)
            version = 0
    return version, base


def merge(current: UnitSettings, new: UnitSettings) -> UnitSettings:
    """``None`` in the desired document keeps the current value."""
    data = current.model_dump()
    data.update({k: v for k, v in new.model_dump().items() if v is not None and k != "v"})
    return UnitSettings.model_validate(data)


class UnitControl(Protocol):
    """What the fleet side may use of its unit: a command reaches these and
    nothing else (the agent satisfies it; mypy checks that it does)."""

    cfg: UnitConfig
    version: str
    store: Store
    link: Link
    clock: Clock
    modem: ModemPort
    outbox: Outbox
    updater: Updater

    @property
    def settings(self) -> UnitSettings: ...

    @property
    def config_version(self) -> int: ...

    def topic(self, kind: DeviceTopic) -> str: ...

    def event(self, kind: str, detail: Any = None, *, level: str = "INFO") -> None: ...

    def apply_settings(self, new: UnitSettings, version: int) -> None: ...

    def set_log_level(self, level: LogLevel | str) -> None: ...

    def request_stop(self, code: int = 0) -> None: ...

    def self_test(self) -> dict[str, Any]: ...


class Fleet:
    def __init__(self, agent: UnitControl) -> None:
        self.a = agent
        self.rejected_commands = 0
        self.rejected_configs = 0

    # -- desired / reported config ---------------------------------------

    def publish_reported(self, *, refused: int | None = None, error: str | None = None) -> None:
        a = self.a
        rep = ReportedConfig(device=a.cfg.device_id, version=a.config_version, settings=a.settings,
                             refused_version=refused, error=error[:200] if error else None)
        a.link.publish(a.topic(DeviceTopic.CONFIG_REPORTED), encode(rep), qos=1, retain=True)

    def on_desired(self, payload: bytes) -> None:
        a = self.a
        if not payload:  # retained document cleared
            return
        try:
            desired = decode(DesiredConfig, payload)
        except PayloadError as exc:
            self.rejected_configs += 1
            version = _peek(payload, "version")
            log.warning("Konfigurasi ditolak / desired config refused: %s", exc)
            a.event("config_refused", str(exc), level="WARNING")
            ok = type(version) is int and 0 <= version <= MAX_COUNT  # anything may be in there
            self.publish_reported(refused=version if ok else None, error=f"{exc.reason}: {exc}")
            return
        if desired.version <= a.config_version:
            if desired.version < a.config_version:
                self.rejected_configs += 1
                a.event("config_stale", {"version": desired.version, "in_force": a.config_version})
                self.publish_reported(refused=desired.version,
                                      error=f"stale version {desired.version} <= {a.config_version}")
            return  # the same version again (every reconnect re-delivers it): nothing to do
        cats = desired.settings.button_categories
        if cats:
            unknown = sorted(set(cats) - set(a.cfg.button_names()))
            if unknown:
                self.rejected_configs += 1
                self.publish_reported(refused=desired.version,
                                      error=f"unknown buttons: {', '.join(unknown)}")
                return
        try:
            new = merge(a.settings, desired.settings)
        except ValidationError as exc:
            self.publish_reported(refused=desired.version, error=str(exc)[:200])
            return
        wanted = new.firmware_version
        start_update = wanted is not None and wanted != a.settings.firmware_version
        a.store.set_metas(config_version=desired.version, config_settings=new.model_dump_json())
        a.apply_settings(new, desired.version)
        a.event("config_applied", {"version": desired.version})
        log.info("Konfigurasi v%d diterapkan / config v%d applied", desired.version, desired.version)
        self.publish_reported()
        if start_update and wanted and wanted != a.version:  # a new target: as the `update` command
            a.updater.request(wanted, new.firmware_url)

    # -- commands ---------------------------------------------------------

    def on_command(self, payload: bytes, properties: Any) -> None:
        a = self.a
        correlation = getattr(properties, "CorrelationData", None) if properties is not None else None
        response = getattr(properties, "ResponseTopic", None) if properties is not None else None
        own = f"{PREFIX}/dev/{a.cfg.device_id}/"
        if not response or not str(response).startswith(own) or "+" in response or "#" in response:
            if response:
                log.warning("response topic %r outside our branch: replying on the default", response)
            response = a.topic(DeviceTopic.CMD_RES)
        try:
            cmd = decode(Command, payload)
        except PayloadError as exc:
            self.rejected_commands += 1
            cmd_id = _peek(payload, "id")
            log.warning("Perintah ditolak / command refused: %s", exc)
            a.event("command_refused", str(exc), level="WARNING")
            if isinstance(cmd_id, str) and re.match(ULID_PATTERN, cmd_id):
                self._reply(response, correlation, cmd_id, CommandStatus.ERROR, error=f"{exc.reason}: {exc}")
            return
        seen = a.store.command_outcome(cmd.id)
        if seen is not None:  # answered again with what it did the first time, never rerun
            self._reply(response, correlation, cmd.id, CommandStatus.DUPLICATE, result=seen[1],
                        error=f"command id already executed ({seen[0]})")
            return
        if cmd.expires_at is not None:
            exp = cmd.expires_at if cmd.expires_at.tzinfo else cmd.expires_at.replace(tzinfo=UTC)
            if exp <= datetime.now(UTC):
                a.store.remember_command(cmd.id, cmd.name, "expired")
                self._reply(response, correlation, cmd.id, CommandStatus.EXPIRED,
                            error=f"expired at {exp.isoformat()}")
                return
        model = command_args().get(cmd.name)
        if model is None:
            a.store.remember_command(cmd.id, cmd.name, "unknown")
            self._reply(response, correlation, cmd.id, CommandStatus.ERROR,
                        error=f"unknown command {cmd.name!r}")
            return
        try:
            args = model.model_validate(cmd.args)
        except ValidationError as exc:
            a.store.remember_command(cmd.id, cmd.name, "bad_args")
            err = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors())
            self._reply(response, correlation, cmd.id, CommandStatus.ERROR, error=f"bad args: {err}")
            return
        # durable before it runs: a crash mid-command never runs it again
        a.store.remember_command(cmd.id, cmd.name, "running")
        a.event("command", {"id": cmd.id, "name": cmd.name})
        try:
            result, after = self._run(cmd.name, args)
        except Exception as exc:
            log.exception("command %s failed", cmd.name)
            a.store.remember_command(cmd.id, cmd.name, "error", {"error": str(exc)[:200]})
            self._reply(response, correlation, cmd.id, CommandStatus.ERROR, error=str(exc))
            return
        # log lines are not worth keeping twice
        a.store.remember_command(cmd.id, cmd.name, "ok", {} if cmd.name == CommandName.LOGS else result)
        info = self._reply(response, correlation, cmd.id, CommandStatus.OK, result=result)
        if after is not None:
            if info is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(2.0)
            after()

    def _run(self, name: str, args: Any) -> tuple[dict[str, Any], Any]:
        a = self.a
        if name == CommandName.PING:
            return {"pong": True, "uptime_s": a.clock.uptime_ms() // 1000, "firmware": a.version}, None
        if name == CommandName.SELF_TEST:
            return a.self_test(), None
        if name == CommandName.REBOOT:
            cmd = a.cfg.reboot_command
            log.warning("Reboot diminta / reboot requested: %s", " ".join(cmd))
            from firmware.agent.spawn import spawn_reaped  # subprocess: only for this command

            return {"running": cmd}, lambda: spawn_reaped(cmd)
        if name == CommandName.RESTART_AGENT:
            return {"exit_code": a.cfg.restart_exit_code}, lambda: a.request_stop(a.cfg.restart_exit_code)
        if name == CommandName.MODEM_RESET:
            ok = a.modem.reset()
            return {"modem_present": ok}, None
        if name == CommandName.SET_LOG_LEVEL:
            a.set_log_level(args.level)
            return {"level": str(args.level)}, None
        if name == CommandName.LOGS:
            rows = a.store.recent_events(args.lines)
            lines = [f"{datetime.fromtimestamp(r['at'], UTC).isoformat()} {r['level']} {r['kind']} "
                     f"{r['detail'] or ''}".rstrip()[:LOG_LINE_MAX] for r in rows]
            # the reply must fit the 64 KiB payload limit: keep the newest lines
            total, kept = 0, []
            for line in reversed(lines):
                total += len(line.encode()) + 4
                if total > LOGS_MAX_BYTES:
                    break
                kept.append(line)
            return {"lines": kept[::-1], "truncated": len(kept) < len(lines)}, None
        if name == CommandName.FLUSH_OUTBOX:
            a.outbox.flush()
            return {"outbox_depth": a.store.outbox_depth()}, None
        if name == CommandName.UPDATE:  # UpdateRefused -> an error reply with the reason
            return a.updater.command(args.version, args.url), None
        raise ValueError(f"unknown command {name!r}")  # command_args() and this list agree; kept explicit

    def _reply(self, topic: str, correlation: bytes | None, cmd_id: str, status: CommandStatus, *,
               result: dict[str, Any] | None = None, error: str | None = None) -> Any:
        a = self.a
        res = CommandResult(device=a.cfg.device_id, seq=a.store.next_seq(), **a.clock.stamp(),
                            command_id=cmd_id, status=status, result=result or {},
                            error=error[:200] if error else None)
        info = a.link.publish(topic, encode(res), qos=1, properties=a.link.response_properties(correlation))
        if info is None:
            log.warning("command reply %s for %s not sent: link down", status, cmd_id)
        return info


def _peek(payload: bytes, key: str) -> Any:
    """A field of a refused payload (to name it in the reply); never raises."""
    return peek(payload, key)

"""Device management payloads: status, telemetry, configuration, commands."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, WithJsonSchema

from protocol.base import (
    MAX_COUNT,
    Count,
    DeviceId,
    DeviceMessage,
    Identified,
    MessageId,
    PhoneNumber,
    ShortText,
    Wire,
    WireTime,
)
from protocol.categories import Category
from protocol.selftest import SelfTestSummary


class Profile(enum.StrEnum):
    PANEL = "panel"  # call-centre desk: answers incoming 112 calls
    FIELD = "field"  # street call box: a citizen presses a button


class Status(Wire):
    """Retained presence. The broker publishes the ``offline`` will for us."""

    device: DeviceId
    state: Literal["online", "offline"]
    firmware: ShortText | None = None
    profile: Profile | None = None
    boot_id: ShortText | None = Field(None, description="Changes on every agent start")
    reason: ShortText | None = Field(None, description="e.g. 'power_restored', 'will'")


class Registration(enum.StrEnum):
    NOT_REGISTERED = "not_registered"
    HOME = "home"
    SEARCHING = "searching"
    DENIED = "denied"
    UNKNOWN = "unknown"
    ROAMING = "roaming"


class UpdateState(enum.StrEnum):
    """Where a unit is with a software update (docs/updates.md)."""

    OFFERED = "offered"  # accepted, waiting to start (or for a call to end)
    DOWNLOADING = "downloading"
    INSTALLED = "installed"  # verified and installed in the inactive slot, about to switch
    CONFIRMED = "confirmed"  # the new version runs and passed its health check
    ROLLED_BACK = "rolled_back"  # the new version failed its health check; the old one runs
    FAILED = "failed"  # refused or interrupted before the switch; the old version runs


class UpdateReport(Wire):
    """The unit's last update, repeated in every heartbeat until the next one."""

    version: Annotated[str, StringConstraints(max_length=32)]
    state: UpdateState
    error: ShortText | None = None
    at: WireTime | None = None


class Telemetry(DeviceMessage):
    """Heartbeat (QoS 0): lateness of the next one is how offline is noticed."""

    signal_dbm: int | None = Field(None, ge=-130, le=0)
    registration: Registration = Registration.UNKNOWN
    outbox_depth: Count = 0
    uptime_s: Count = 0
    cpu_temp_c: float | None = Field(None, ge=-40, le=150)
    storage_free_mb: float | None = Field(None, ge=0, le=1e9)
    storage_low: bool = False
    config_version: Count = 0
    faults: list[Annotated[str, StringConstraints(max_length=64, pattern=r"^[^\x00]*$")]] = Field(
        default_factory=list, max_length=32
    )
    firmware: ShortText | None = Field(None, description="Software version running")
    update: UpdateReport | None = None
    self_test: SelfTestSummary | None = Field(
        None, description="The last self-test, pass or fail (contract revision 3)")


class LogLevel(enum.StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


_BUTTON = r"^[a-z0-9_]{1,32}$"
#: button name -> category; the schema spelled out so it also says "no other keys"
ButtonMap = Annotated[
    dict[Annotated[str, StringConstraints(pattern=_BUTTON)], Category],
    Field(max_length=16),
    WithJsonSchema({"type": "object", "maxProperties": 16, "additionalProperties": False,
                    "patternProperties": {_BUTTON: {"type": "string", "enum": [c.value for c in Category]}}}),
]


class UnitSettings(Wire):
    """Settings a unit can change live. ``None`` means 'keep the current value'."""

    heartbeat_s: int | None = Field(None, ge=5, le=3600)
    button_categories: ButtonMap | None = None
    volume: int | None = Field(None, ge=0, le=100)
    centre_number: PhoneNumber | None = None
    log_level: LogLevel | None = None
    self_test_daily_at: Annotated[
        str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = None
    firmware_version: Annotated[
        str, StringConstraints(pattern=r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$")] | None = Field(
        None, description="Software version to run; a change starts a signed update (docs/updates.md)")
    firmware_url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=300)] | None = Field(
        None, description="Release repository for firmware_version (default: the unit's updates.base_url)")
    operator: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{0,64}$")] | None = Field(
        None, description="Panel: user name of the operator signed in at this desk; put on every "
                          "answered call record; an empty string signs out (contract revision 2)")


class DesiredConfig(Wire):
    """Retained, versioned desired configuration. Versions only go up."""

    version: int = Field(ge=1, le=MAX_COUNT)
    settings: UnitSettings
    issued_at: WireTime | None = None


class ReportedConfig(Wire):
    """What the unit applied, or why it refused a desired version."""

    device: DeviceId
    version: Count = Field(description="Version now in force on the unit")
    settings: UnitSettings
    refused_version: Count | None = None
    error: ShortText | None = None


class CommandName(enum.StrEnum):
    PING = "ping"
    SELF_TEST = "self_test"
    REBOOT = "reboot"
    RESTART_AGENT = "restart_agent"
    MODEM_RESET = "modem_reset"
    SET_LOG_LEVEL = "set_log_level"
    LOGS = "logs"
    FLUSH_OUTBOX = "flush_outbox"
    UPDATE = "update"  # args: version, url (docs/updates.md)


class Command(Identified):
    """A request to a unit. The MQTT 5 response topic and correlation data
    carry the reply route; ``id`` makes a repeated delivery run only once."""

    # a plain string so an unknown command reaches the unit and gets a clear reply
    name: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]
    args: dict[Annotated[str, StringConstraints(max_length=32)], Any] = Field(
        default_factory=dict, max_length=16
    )
    expires_at: WireTime | None = Field(None, description="Never run after this instant")
    issued_at: WireTime | None = None


class CommandStatus(enum.StrEnum):
    OK = "ok"
    ERROR = "error"
    EXPIRED = "expired"
    DUPLICATE = "duplicate"


class CommandResult(DeviceMessage):
    """A unit's reply to a command; ``command_id`` links it."""

    command_id: MessageId
    status: CommandStatus
    result: dict[str, Any] = Field(default_factory=dict)
    error: ShortText | None = None

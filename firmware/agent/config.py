"""The unit's configuration file (``/etc/siaga/unit.yaml``) as pydantic models.

Why strict: a typo in a field box's config must stop the agent at start with
the offending key named, not leave a button silently unmapped in the rain.
Pin defaults come from :mod:`firmware.pins` (checked against the schematic).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from firmware.errors import FirmwareError
from firmware.pins import DEFAULT_PINS, RESERVED_PINS
from protocol.base import PhoneNumber
from protocol.categories import Category
from protocol.configfile import ConfigFileError, load_model, read_secret, secret_path
from protocol.fleet import LogLevel, Profile
from protocol.ids import DEVICE_ID_PATTERN
from protocol.mqtt import BrokerSettings
from protocol.reports import Location


class ConfigError(FirmwareError, ConfigFileError):
    """The unit configuration is missing, unreadable or invalid; one
    ``file:line: key: message`` line per problem."""


class _Section(BaseModel):
    # built on first use: only UnitConfig is validated (once, at start); a
    # section validated inside it needs no validator of its own, and a section
    # left out of the file is its defaults (``default_factory=X.model_construct``:
    # calling ``X()`` would build X's validator for nothing; the sections have
    # no model validators to skip)
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ModemSettings(_Section):
    """The GSM modem on the UART; leave ``url`` empty for a box without one."""

    url: str | None = Field(
        None, title="Modem port",
        description="Serial device (/dev/serial0) or pyserial URL (socket://host:port); "
                    "empty: no modem, incidents go over MQTT only",
    )
    profile: str = Field("sim800", title="Modem family (AT dialect)")
    baudrate: int = Field(115200, ge=1200, le=4_000_000, title="Baud rate")
    command_timeout_s: float = Field(5.0, gt=0, le=60, title="AT command timeout, seconds")
    watchdog_interval_s: float = Field(10.0, gt=0, le=600, title="Modem liveness probe period")
    audio_test_s: float = Field(
        1.0, ge=0, le=5, title="Self-test recording length, seconds",
        description="The self-test records this long in silence and again while the modem plays a "
                    "tone (speaker and microphone check, SIM800 profile); 0 skips the audio check",
    )


class SmsFallbackSettings(_Section):
    """Send an unacknowledged urgent incident by SMS while the broker link is down."""

    numbers: list[PhoneNumber] = Field(
        default_factory=list, title="Centre numbers",
        description="The centre modem's number(s); each gets the SMS. Empty: no SMS fallback",
    )
    key_file: Path | None = Field(
        None, title="SMS key file",
        description="The unit's own SMS signing key (64 hex characters), written by "
                    "`siaga admin device add`; a bare name is a systemd credential",
    )
    max_priority: int = Field(
        2, ge=1, le=4, title="Most urgent priorities only",
        description="Incidents of this priority or more urgent (1 = critical) may go by SMS",
    )
    after_s: float = Field(
        30.0, ge=0, le=3600, title="Wait before SMS",
        description="Seconds an incident must stay unacknowledged, with the broker link down, "
                    "before its SMS is sent",
    )

    def key(self) -> bytes | None:
        """The key bytes, or None when unset or unreadable (logged by the agent)."""
        if self.key_file is None:
            return None
        try:
            return bytes.fromhex(read_secret(self.key_file))
        except (OSError, ValueError):
            return None


class Timings(_Section):
    """Debounce, hold, feedback, retry and loop timings."""

    bounce_s: float = Field(0.05, gt=0, le=1, title="Button debounce (gpiozero bounce_time)")
    hold_s: float = Field(
        0.0, ge=0, le=10, title="Deliberate hold",
        description="Field buttons must be held this long to count (0: a press counts)",
    )
    stuck_after_s: float = Field(
        60.0, ge=1, title="Stuck button",
        description="A button held longer than any citizen would raises one stuck_button fault",
    )
    same_incident_s: float = Field(
        120.0, ge=0, title="Same-incident window",
        description="Field: presses within this many seconds of an open incident join it "
                    "instead of filing another (0: every press files one)",
    )
    feedback_s: float = Field(15.0, gt=0, title="How long the delivered LED stays lit")
    classify_window_s: float = Field(
        600.0, ge=0, title="Panel: how long after a call its category can still be set",
    )
    ack_timeout_s: float = Field(10.0, gt=0, title="Resend an outbox item after this long unacked")
    retry_base_s: float = Field(1.0, gt=0, title="First retry backoff")
    retry_max_s: float = Field(
        60.0, gt=0, le=600, title="Longest retry backoff",
        description="An unacked item is re-sent at most ack_timeout_s + retry_max_s after its "
                    "previous send (70 s by default), however long the gateway was away",
    )
    inflight_max: int = Field(32, ge=1, le=1000, title="Outbox items in flight at once")
    reconnect_max_s: float = Field(15.0, ge=1, le=600, title="Longest wait between broker reconnects")
    loop_tick_s: float = Field(0.5, gt=0, le=5, title="Main-loop wake-up period when idle")


class StorageSettings(_Section):
    """The local SQLite file and what it keeps."""

    path: Path = Field(Path("/var/lib/siaga/unit.db"), title="SQLite file")
    retention_days: float = Field(30.0, gt=0, title="Delivered records are pruned after this age")
    min_free_mb: float = Field(
        100.0, ge=0, title="Below this, non-critical writes (event log, telemetry) are refused",
    )
    critical_reserve_mb: float = Field(
        5.0, ge=0, title="Below this, even incidents and call records are refused",
    )


class UpdateSettings(_Section):
    """Signed software updates with A/B slots (docs/updates.md)."""

    dir: Path = Field(Path("/var/lib/siaga/update"), title="Slots, downloads and the updater state")
    base_url: str | None = Field(
        None, pattern=r"^https?://", title="Release repository URL",
        description="e.g. https://gateway.kota.go.id/updates/ ; an `update` command may name another "
                    "(the signatures, not the URL, decide what runs)",
    )
    ca_file: Path | None = Field(None, title="CA certificate for an HTTPS repository (the site CA)")
    root_keys: list[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list, title="Pinned root public keys (Ed25519, hex)",
        description="Empty: the unit refuses every update",
    )
    confirm_s: float = Field(180.0, gt=0, le=3600, title="A new version must be healthy within this")
    max_attempts: int = Field(3, ge=1, le=20, title="Starts of a new version before it is rolled back")
    download_timeout_s: float = Field(30.0, gt=0, le=600, title="Per-request network timeout")
    download_retries: int = Field(20, ge=0, le=1000, title="Resumed attempts after a cut")
    python: Path | None = Field(None, title="Interpreter for new slots (default: the running one's base)")
    system_site_packages: bool = Field(
        True, title="Create slot venvs with --system-site-packages",
        description="As deploy/install.sh does: lgpio comes from Debian's python3-lgpio on a Pi",
    )
    shared_site_packages: list[Path] = Field(
        default_factory=list, title="Directories of pre-installed dependencies added to every slot",
        description="Production leaves this empty (a bundle carries every wheel); tests point it at "
                    "the dev venv so a bundle can be the project's wheel alone",
    )
    test_pause_s: float = Field(
        0.0, ge=0, le=30, title="TEST ONLY: pause in each updater step",
        description="So a test can SIGKILL inside a step; refused unless GPIOZERO_PIN_FACTORY=mock",
    )


def _check_pin_role(role: str) -> str:
    if not re.fullmatch(r"(button|led|buzzer|modem_reset|door_tamper|mains_ok|battery_low)"
                        r"(_[a-z0-9_]+)?", role):
        raise ValueError(f"unknown pin role {role!r}")
    return role


class UnitConfig(_Section):
    """Everything ``siaga unit`` needs to run one box."""

    device_id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)] = Field(
        title="Device id", description="Also the broker user name",
    )
    profile: Profile = Field(title="panel (call-centre desk) or field (street box)")
    location: Location | None = Field(None, title="Where the box stands (field incidents carry it)")
    broker: BrokerSettings = Field(default_factory=BrokerSettings, title="MQTT broker")
    modem: ModemSettings = Field(default_factory=ModemSettings.model_construct, title="GSM modem")
    pins: dict[str, int | None] = Field(
        default_factory=dict, title="Pin overrides",
        description="role -> BCM pin over firmware.pins defaults; null removes a role "
                    "(e.g. one SOS button: drop button_fire/button_security, add button_sos)",
    )
    buttons: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")], Category] = Field(
        default_factory=dict, title="Button -> category",
        description="Button name (pin role without 'button_') -> category; defaults per profile",
    )
    centre_number: PhoneNumber | None = Field(None, title="Number a field box dials after a press")
    sms_fallback: SmsFallbackSettings = Field(
        default_factory=SmsFallbackSettings.model_construct, title="SMS fallback",
        description="Urgent incidents by signed SMS to the centre when IP is down",
    )
    heartbeat_s: int = Field(60, ge=5, le=3600, title="Telemetry period, seconds")
    operator: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._@-]{0,64}$", title="Panel: operator signed in at this desk",
        description="User name put on every answered call record. The desired config's `operator` "
                    "setting overrides it live (sign-in; an empty string signs out)",
    )
    volume: int = Field(100, ge=0, le=100, title="Buzzer volume (0 mutes)")
    log_level: LogLevel = Field(LogLevel.INFO, title="Log level")
    self_test_daily_at: str | None = Field(
        None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", title="Daily self-test time HH:MM (local)",
    )
    timings: Timings = Field(default_factory=Timings.model_construct,
                             title="Debounce, hold, feedback, retry and loop timings")
    storage: StorageSettings = Field(default_factory=StorageSettings.model_construct,
                                     title="The local SQLite file and what it keeps")
    updates: UpdateSettings = Field(default_factory=UpdateSettings.model_construct,
                                    title="Signed software updates (A/B slots)")
    reboot_command: list[str] = Field(
        default_factory=lambda: ["systemctl", "reboot"], min_length=1, title="Command run by `reboot`",
        description="Tests set a harmless command; the machine is never rebooted by a test",
    )
    restart_exit_code: int = Field(
        75, ge=1, le=255, title="Exit code for `restart_agent` (systemd Restart=on-failure restarts it)",
    )
    clock_synced: bool | None = Field(
        None, title="Override clock-sync detection",
        description="null: detect (systemd-timesyncd flag or modem time); true/false: force",
    )
    sim_control: Path | None = Field(
        None, title="TEST ONLY: control socket",
        description="Unix socket that injects presses into the mock pins; refused unless "
                    "GPIOZERO_PIN_FACTORY=mock",
    )
    sim_pins: dict[str, Literal["low", "high"]] = Field(
        default_factory=dict, title="TEST ONLY: sense inputs' mock pin levels at start",
        description="With sim_control: each sense input (door_tamper, mains_ok...) is driven to "
                    "this level before the agent's first health check, e.g. a shut door and mains on",
    )

    @model_validator(mode="after")
    def _check_pins(self) -> UnitConfig:
        for role in self.pins:
            _check_pin_role(role)
        pins = self.pin_map()
        seen: dict[int, str] = {}
        for role, pin in pins.items():
            if pin in RESERVED_PINS:
                raise ValueError(f"pins.{role}: GPIO{pin} is reserved ({RESERVED_PINS[pin]})")
            if not 0 <= pin <= 27:
                raise ValueError(f"pins.{role}: GPIO{pin} is not a header GPIO (0-27)")
            if pin in seen:
                raise ValueError(f"pins.{role}: GPIO{pin} already used by {seen[pin]}")
            seen[pin] = role
        names = set(self.button_names())
        for name in self.buttons:
            if name not in names:
                raise ValueError(f"buttons.{name}: no such button (have: {', '.join(sorted(names))})")
        return self

    def pin_map(self) -> dict[str, int]:
        """Defaults for the profile with the overrides applied."""
        pins: dict[str, Any] = dict(DEFAULT_PINS[self.profile.value])
        pins.update(self.pins)
        return {k: v for k, v in pins.items() if v is not None}

    def button_names(self) -> list[str]:
        """Field: emergency buttons; panel: category buttons (``cat_*``)."""
        skip = {"button_answer", "button_hangup"}
        return [r.removeprefix("button_") for r in self.pin_map() if r.startswith("button_")
                and r not in skip]

    def category_map(self) -> dict[str, Category]:
        """Button -> category: configured, else guessed from the button name."""
        out = {}
        for name in self.button_names():
            if name in self.buttons:
                out[name] = self.buttons[name]
                continue
            guess = name.removeprefix("cat_")
            out[name] = _DEFAULT_GUESS.get(guess) or (
                Category(guess) if guess in Category.__members__.values() else Category.OTHER
            )
        return out


_DEFAULT_GUESS = {
    "medical": Category.MEDICAL,
    "fire": Category.FIRE,
    "security": Category.SECURITY_DISTURBANCE,
    "accident": Category.TRAFFIC_ACCIDENT,
    "disaster": Category.NATURAL_DISASTER,
    "sos": Category.OTHER,
}


def load_config(path: Path | str) -> UnitConfig:
    """Read and validate a YAML config; ConfigError names each bad key and its line.

    Secret files (``broker.password_file``, ``sms_fallback.key_file``) are found
    the way every program finds them (:mod:`protocol.configfile`): a bare name
    is the systemd credential of that name (``LoadCredential=``,
    ``$CREDENTIALS_DIRECTORY``), another relative path is taken from the
    config file's folder."""
    path = Path(path)
    cfg = load_model(UnitConfig, path, error=ConfigError)
    base = path.parent.absolute()
    if cfg.broker.password_file is not None:
        cfg.broker.password_file = secret_path(cfg.broker.password_file, base)
    if cfg.sms_fallback.key_file is not None:
        cfg.sms_fallback.key_file = secret_path(cfg.sms_fallback.key_file, base)
    return cfg

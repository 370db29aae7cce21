"""Request and response models of the fleet wing's API (``gateway.fleet.api``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfigChange(_In):
    """Keys of ``UnitSettings`` to set; ``null`` removes a key."""

    settings: dict[str, Any] = Field(title="Settings to change", min_length=1)


class CommandRequest(_In):
    name: str = Field(title="Command name", pattern=r"^[a-z_]{1,32}$")
    args: dict[str, Any] = Field(default_factory=dict, title="Arguments")
    timeout_s: float = Field(30.0, gt=0, le=3600, title="Reply timeout once sent")
    expires_in_s: float = Field(3600.0, gt=0, le=7 * 86400, title="Never sent or run after this")


class FaultEpisode(BaseModel):
    id: int
    device: str
    fault: str
    detail: str
    opened_at: str
    closed_at: str | None = Field(description="None while the episode is open")
    notified_open: int
    notified_close: int


class DeviceEvent(BaseModel):
    id: int
    device: str
    kind: str = Field(description="power_restored, provisioned, disabled, enabled, revoked, "
                      "credentials_rotated ...")
    detail: str
    at: str


class CommandPublic(BaseModel):
    """A command and where it is: queued -> sent -> delivered -> succeeded | failed |
    timed_out, or expired."""

    id: str
    device: str
    name: str
    args: dict[str, Any]
    state: str
    created_at: str | None
    expires_at: str | None
    timeout_s: float
    sent_at: str | None
    delivered_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None
    error: str | None


class DriftPublic(BaseModel):
    device: str
    state: str = Field(description="none, in_sync, pending, unpublished, refused")
    desired_version: int | None
    reported_version: int | None
    refused_version: int | None
    error: str | None
    issued_at: str | None
    reported_at: str | None


class ConfigLine(BaseModel):
    key: str
    desired: Any = None
    reported: Any = None
    same: bool


class ConfigView(BaseModel):
    """Desired vs reported configuration, key by key."""

    desired: dict[str, Any] | None
    reported: dict[str, Any] | None
    drift: DriftPublic
    diff: list[ConfigLine] = Field(description="Every key of either side, with whether they agree")


class ConfigStored(BaseModel):
    device: str
    version: int
    settings: dict[str, Any]

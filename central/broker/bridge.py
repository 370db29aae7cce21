"""A Mosquitto bridge from a city broker up to a province broker.

Why a bridge and not a province gateway subscribing to every city: the city
keeps working alone when the link is cut (its broker, gateway and OPDs are
all local), and the bridge queues what goes up until the link returns. Only
the cases go up (the unit records ``incident`` and ``call``, under a
``siaga/v1/city/<city>/`` prefix so the province sees which city); nothing
comes down, so a province can never ack, command or configure a city's units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from central.errors import FleetError
from protocol.configfile import read_secret
from protocol.topics import CITY_PATTERN, PREFIX, QOS, UNIT_PUBLISHES, DeviceTopic

#: what a city sends up by default: its cases
CASE_KINDS = (DeviceTopic.INCIDENT, DeviceTopic.CALL)


class BridgeError(FleetError, ValueError):
    """A bridge setting cannot be rendered (its password file is missing or empty)."""


def city_prefix(city: str) -> str:
    """``siaga/v1/city/<city>/``: where a city's records land on the province broker."""
    return f"{PREFIX}/city/{city}/"


class BridgeConfig(BaseModel):
    """The city broker's bridge to its province broker."""

    model_config = ConfigDict(extra="forbid")

    city: str = Field(..., pattern=CITY_PATTERN, title="City name on the province broker",
                      description="Records go up under siaga/v1/city/<city>/dev/<device>/<kind>, so "
                                  "device ids may repeat across cities; also the bridge's client id "
                                  "(bridge-<city>)")
    host: str = Field(..., title="Province broker host")
    port: int = Field(8883, ge=1, le=65535, title="Province broker port")
    username: str = Field(..., title="This city's user on the province broker",
                          description="Create it there with `siaga admin broker user <name> "
                                      "--access city:<city>`: it may write only under its city's branch")
    password_file: Path = Field(
        ..., title="File holding that user's password",
        description="Read by `gen-config` and written into mosquitto.conf (Mosquitto has no other way "
                    "for a bridge), which is then 0640 for the broker's group, never world-readable")
    ca_file: Path | None = Field(
        None, title="CA that signed the province broker's certificate (PEM)",
        description="Required unless tls is false; the certificate's name is verified")
    tls: bool = Field(True, title="Use TLS to the province (false only on a lab network)")
    tls_version: str = Field("tlsv1.2", pattern=r"^tlsv1\.[23]$", title="Lowest TLS version")
    kinds: list[DeviceTopic] = Field(
        list(CASE_KINDS), min_length=1, title="Unit record kinds sent up",
        description="Only kinds a unit publishes; default the cases (incident, call). status or "
                    "telemetry would let a province dashboard see the fleet, at many times the traffic")
    protocol_version: Literal["mqttv311", "mqttv50"] = Field(
        "mqttv311", title="MQTT version of the bridge link",
        description="Case records carry no MQTT 5 properties, and Mosquitto 2.0 keeps a 3.1.1 "
                    "bridge's session on both sides")
    keepalive_s: int = Field(30, ge=5, le=600, title="Keepalive of the bridge link",
                             description="A dead link is noticed after 1.5 x this")
    restart_base_s: int = Field(2, ge=1, le=600, title="First reconnect wait after the link drops")
    restart_cap_s: int = Field(60, ge=1, le=3600, title="Longest reconnect wait (backoff cap)")

    def topics(self) -> list[str]:
        """The ``topic`` lines: out only, at the contract's QoS, remapped under the city."""
        bad = [k for k in self.kinds if not UNIT_PUBLISHES[k]]
        if bad:
            raise BridgeError(f"only unit records go up, not {', '.join(k.value for k in bad)}")
        return [f"topic +/{k.value} out {QOS[k]} {PREFIX}/dev/ {city_prefix(self.city)}dev/"
                for k in self.kinds]


def render_bridge(cfg: BridgeConfig) -> list[str]:
    """The ``connection`` block of mosquitto.conf (contains the password)."""
    try:
        password = read_secret(cfg.password_file)
    except OSError as exc:
        raise BridgeError(f"cannot read bridge password file {cfg.password_file}: {exc}") from None
    if not password:
        raise BridgeError(f"bridge password file {cfg.password_file} is empty")
    if cfg.tls and cfg.ca_file is None:
        raise BridgeError("bridge.ca_file is required with tls (or set tls: false on a lab network)")
    client = f"bridge-{cfg.city}"
    lines = [
        "",
        f"# Bridge to the province: this city's cases go up under {city_prefix(cfg.city)}, nothing "
        "comes down.",
        f"connection province-{cfg.city}",
        f"address {cfg.host}:{cfg.port}",
        f"bridge_protocol_version {cfg.protocol_version}",
        f"remote_clientid {client}",
        f"local_clientid {client}-local",
        f"remote_username {cfg.username}",
        f"remote_password {password}",
        # keep the session: while the link is down the city broker queues what goes up
        # (up to max_queued_messages), and the province keeps the bridge's session
        "cleansession false",
        "start_type automatic",
        f"restart_timeout {cfg.restart_base_s} {max(cfg.restart_cap_s, cfg.restart_base_s)}",
        f"keepalive_interval {cfg.keepalive_s}",
        "try_private true",
        # the link's state ($SYS/broker/connection/bridge-<city>/state) for the city's own monitoring only
        "notifications true",
        "notifications_local_only true",
        "bridge_outgoing_retain false",
    ]
    if cfg.tls:
        lines += [f"bridge_cafile {cfg.ca_file}", f"bridge_tls_version {cfg.tls_version}",
                  "bridge_insecure false"]
    return lines + cfg.topics()

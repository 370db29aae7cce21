"""One way to build an MQTT client for every Siaga program.

Why a helper: paho does not set ``TCP_NODELAY``, and with Nagle's algorithm on
both ends a QoS 1 round trip costs ~88 ms instead of <1 ms (``bench/mqtt_roundtrip.py``).
Every client we create goes through :func:`make_client`, which sets it on
each socket paho opens, reconnects included. paho is imported lazily so that
``protocol`` stays importable without it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # pragma: no cover
    import paho.mqtt.client as mqtt


class BrokerSettings(BaseModel):
    """Where and how to reach the broker. Built on first use (``defer_build``,
    see ``protocol.base.Wire``): as part of a config it is never validated alone."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    host: str = Field("127.0.0.1", title="Broker host")
    port: int = Field(1883, ge=1, le=65535, title="Broker port")
    username: str | None = Field(None, title="Broker user (a unit's is its device id)")
    password: str | None = Field(
        None, title="Password", description="Prefer password_file; never logged", repr=False
    )
    password_file: Path | None = Field(
        None, title="File holding the password (e.g. a systemd credential)"
    )
    tls: bool = Field(False, title="Use TLS")
    ca_file: Path | None = Field(None, title="CA certificate to trust for TLS")
    keepalive_s: int = Field(
        30, ge=5, le=3600, title="MQTT keepalive, seconds",
        description="The broker drops a client silent for 1.5x this; a unit agent notices a dead "
                    "link within it (a probe after keepalive/2 of silence, unanswered for another "
                    "keepalive/2)")
    session_expiry_s: int = Field(
        7 * 24 * 3600, ge=0, title="MQTT 5 session expiry: how long the broker keeps our queue"
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> BrokerSettings:
        if self.password and self.password_file:
            raise ValueError("give either password or password_file, not both")
        return self

    def resolve_password(self) -> str | None:
        """The password, read from its file when one is named."""
        if self.password_file is not None:
            from protocol.configfile import read_secret

            return read_secret(self.password_file)
        return self.password


def _nodelay(_client: Any, _userdata: Any, sock: Any) -> None:
    # unix sockets and websockets have no Nagle to turn off
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def make_client(
    client_id: str,
    settings: BrokerSettings | None = None,
    *,
    userdata: Any = None,
    max_inflight: int = 100,
    max_queued: int = 0,
) -> mqtt.Client:
    """An MQTT 5 paho client (callback API v2) with TCP_NODELAY, credentials
    and TLS from ``settings``. Call :func:`connect` (or ``connect_async``) next."""
    import paho.mqtt.client as mqtt

    settings = settings or BrokerSettings()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        userdata=userdata,
    )
    client.on_socket_open = _nodelay
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(max_queued)
    if settings.username:
        client.username_pw_set(settings.username, settings.resolve_password())
    if settings.tls:
        ctx = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        client.tls_set_context(ctx)
    return client


def connect_properties(settings: BrokerSettings) -> Any:
    """CONNECT properties: a session expiry so the broker keeps our QoS 1
    queue across a short outage."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.session_expiry_s
    return props


def connect(client: mqtt.Client, settings: BrokerSettings, *, clean_start: bool = False,
            blocking: bool = False) -> None:
    """Connect (or schedule the connection) with a persistent MQTT 5 session."""
    kwargs = dict(
        host=settings.host,
        port=settings.port,
        keepalive=settings.keepalive_s,
        clean_start=clean_start,
        properties=connect_properties(settings),
    )
    if blocking:
        client.connect(**kwargs)
    else:
        client.connect_async(**kwargs)

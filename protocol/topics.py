"""Topic builders and parsers for protocol v1 (``siaga/v1/...``).

Builders refuse ids that could escape their branch (``+``, ``#``, ``/``), so a
device id can never address another device's topics.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from protocol.errors import BadTopic
from protocol.ids import DEVICE_ID_PATTERN, OPD_ID_PATTERN

PREFIX = "siaga/v1"
SHARE_GROUP = "gateway"


class DeviceTopic(enum.StrEnum):
    """The kinds of topic under ``siaga/v1/dev/{device}/``."""

    INCIDENT = "incident"
    CALL = "call"
    ACK = "ack"
    STATUS = "status"
    TELEMETRY = "telemetry"
    CONFIG_DESIRED = "config/desired"
    CONFIG_REPORTED = "config/reported"
    CMD = "cmd"
    CMD_RES = "cmd/res"
    FLAGS = "flags"  # revision 2: flagged numbers a panel lights its LED for
    DESK = "desk"  # revision 2: a panel's call in progress (ringing/active/idle)


#: who publishes each kind: True when the unit itself publishes it
UNIT_PUBLISHES: dict[DeviceTopic, bool] = {
    DeviceTopic.INCIDENT: True,
    DeviceTopic.CALL: True,
    DeviceTopic.ACK: False,
    DeviceTopic.STATUS: True,
    DeviceTopic.TELEMETRY: True,
    DeviceTopic.CONFIG_DESIRED: False,
    DeviceTopic.CONFIG_REPORTED: True,
    DeviceTopic.CMD: False,
    DeviceTopic.CMD_RES: True,
    DeviceTopic.FLAGS: False,
    DeviceTopic.DESK: True,
}

#: QoS and retain flag per kind, as the contract fixes them
QOS: dict[DeviceTopic, int] = {k: 1 for k in DeviceTopic} | {DeviceTopic.TELEMETRY: 0}
RETAIN: dict[DeviceTopic, bool] = {k: False for k in DeviceTopic} | {
    DeviceTopic.STATUS: True,
    DeviceTopic.CONFIG_DESIRED: True,
    DeviceTopic.CONFIG_REPORTED: True,
    DeviceTopic.FLAGS: True,
    DeviceTopic.DESK: True,
}

_device_re = re.compile(DEVICE_ID_PATTERN)
_opd_re = re.compile(OPD_ID_PATTERN)
_dev_topic_re = re.compile(r"^siaga/v1/dev/([^/]+)/(.+)$")
_opd_topic_re = re.compile(r"^siaga/v1/opd/([^/]+)/dispatch$")
#: a city's name on a province broker (its bridge's ``city``)
CITY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_city_re = re.compile(CITY_PATTERN)
_city_topic_re = re.compile(r"^siaga/v1/city/([^/]+)/(dev/.+)$")


def _check_device(device: str) -> str:
    if not _device_re.match(device):
        raise BadTopic(f"invalid device id {device!r}: must match {DEVICE_ID_PATTERN}")
    return device


def device_topic(device: str, kind: DeviceTopic | str) -> str:
    """``siaga/v1/dev/{device}/{kind}`` for one device."""
    return f"{PREFIX}/dev/{_check_device(device)}/{DeviceTopic(kind).value}"


def opd_dispatch_topic(opd: str) -> str:
    """``siaga/v1/opd/{opd}/dispatch``: where an OPD terminal listens."""
    if not _opd_re.match(opd):
        raise BadTopic(f"invalid OPD id {opd!r}: must match {OPD_ID_PATTERN}")
    return f"{PREFIX}/opd/{opd}/dispatch"


def device_filter(kind: DeviceTopic | str, *, shared: bool = False) -> str:
    """Subscription filter for one kind from every device; ``shared`` splits
    the load between gateway instances (``$share/gateway/...``)."""
    topic = f"{PREFIX}/dev/+/{DeviceTopic(kind).value}"
    return f"$share/{SHARE_GROUP}/{topic}" if shared else topic


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """What a device topic names."""

    device: str
    kind: DeviceTopic


def parse_device_topic(topic: str) -> ParsedTopic:
    """Split a device topic into its device id and kind, or raise BadTopic."""
    m = _dev_topic_re.match(topic)
    if not m:
        raise BadTopic(f"not a siaga/v1 device topic: {topic!r}")
    device, kind = m.groups()
    _check_device(device)
    try:
        return ParsedTopic(device=device, kind=DeviceTopic(kind))
    except ValueError:
        raise BadTopic(f"unknown topic kind {kind!r} in {topic!r}") from None


def parse_opd_topic(topic: str) -> str:
    """The OPD id of a dispatch topic, or raise BadTopic."""
    m = _opd_topic_re.match(topic)
    if not m or not _opd_re.match(m.group(1)):
        raise BadTopic(f"not a siaga/v1 OPD dispatch topic: {topic!r}")
    return m.group(1)


def city_prefix(city: str) -> str:
    """``siaga/v1/city/<city>/``: where a city's records land on a province
    broker (the city broker's bridge remaps ``siaga/v1/dev/...`` under it)."""
    if not _city_re.match(city):
        raise BadTopic(f"invalid city {city!r}: must match {CITY_PATTERN}")
    return f"{PREFIX}/city/{city}/"


def city_filter(kind: DeviceTopic | str) -> str:
    """Subscription filter for one kind from every device of every city (a
    province gateway; the city is checked after, so an unknown one is counted).
    Never shared: see gateway.province.subscriptions."""
    return f"{PREFIX}/city/+/dev/+/{DeviceTopic(kind).value}"


def parse_city_topic(topic: str) -> tuple[str, str]:
    """``siaga/v1/city/<city>/dev/<id>/<kind>`` -> (city, the device topic as
    the unit published it), or raise BadTopic. The device part is checked by
    :func:`parse_device_topic` on the result."""
    m = _city_topic_re.match(topic)
    if not m or not _city_re.match(m.group(1)):
        raise BadTopic(f"not a siaga/v1 city topic: {topic!r}")
    return m.group(1), f"{PREFIX}/{m.group(2)}"

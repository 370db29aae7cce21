from __future__ import annotations

import pytest

from protocol import BadTopic
from protocol.topics import (
    DeviceTopic,
    device_filter,
    device_topic,
    opd_dispatch_topic,
    parse_device_topic,
    parse_opd_topic,
)


@pytest.mark.parametrize("kind", list(DeviceTopic))
def test_build_and_parse(kind):
    t = device_topic("box-12", kind)
    assert t == f"siaga/v1/dev/box-12/{kind.value}"
    p = parse_device_topic(t)
    assert (p.device, p.kind) == ("box-12", kind)


@pytest.mark.parametrize("device", ["+", "#", "a/b", "", "UPPER", "x" * 80, "-lead"])
def test_builders_refuse_wildcards_and_bad_ids(device):
    with pytest.raises(BadTopic):
        device_topic(device, "incident")


@pytest.mark.parametrize(
    "topic",
    ["siaga/v2/dev/box-1/incident", "siaga/v1/dev/box-1/unknown", "siaga/v1/dev/box-1",
     "other/v1/dev/box-1/incident", "siaga/v1/dev/BOX/incident"],
)
def test_parse_refuses(topic):
    with pytest.raises(BadTopic):
        parse_device_topic(topic)


def test_shared_filter_and_opd():
    assert device_filter("incident", shared=True) == "$share/gateway/siaga/v1/dev/+/incident"
    assert parse_opd_topic(opd_dispatch_topic("damkar")) == "damkar"
    with pytest.raises(BadTopic):
        opd_dispatch_topic("Dam kar")

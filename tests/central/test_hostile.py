"""Issue 21 at the fleet watch: hostile ``config/reported`` and ``cmd/res``
payloads from a provisioned unit, through the real broker and its ACL, are
rejected and counted by reason; the valid report and reply that follow are
applied."""

from __future__ import annotations

import time

import pytest

from gateway.fleet.commands import CmdState
from protocol.codec import encode
from protocol.fleet import CommandResult, CommandStatus, ReportedConfig, UnitSettings
from protocol.topics import DeviceTopic, device_topic
from tests.central.conftest import provision, wait_for
from tests.support import hostile
from tests.support.mqtt import TestClient


@pytest.mark.parametrize("kind", [DeviceTopic.CONFIG_REPORTED, DeviceTopic.CMD_RES])
def test_hostile_reports_and_replies_then_valid_ones_apply(site, fleet, kind):
    pw = provision(site, "box-c")
    unit = TestClient(site.broker, "box-c", username="box-c", password=pw).start()
    bad = hostile.payloads(kind, "box-c")
    before = dict(fleet.counters)
    for payload, _ in bad:
        unit.publish(device_topic("box-c", kind), payload, retain=kind is DeviceTopic.CONFIG_REPORTED)
    expected: dict[str, int] = {}
    for _, reason in bad:
        expected[f"rejected_{reason}"] = expected.get(f"rejected_{reason}", 0) + 1

    def counted() -> dict[str, int]:
        return {k: fleet.counters[k] - before.get(k, 0) for k in expected}

    assert wait_for(lambda: counted() == expected), counted()
    assert fleet.counters["internal_error"] == 0
    assert fleet.counters["rejected_undecodable"] == 0

    sent = time.monotonic()
    if kind is DeviceTopic.CONFIG_REPORTED:
        rep = ReportedConfig(device="box-c", version=4, settings=UnitSettings(volume=3))
        unit.publish(device_topic("box-c", kind), encode(rep), retain=True)
        got = wait_for(lambda: (r := fleet.config.reported("box-c")) is not None and r.version == 4 and r)
        assert got and got.settings.volume == 3
    else:
        rec = fleet.commands.create("box-c", "ping", timeout_s=30)
        res = CommandResult(device="box-c", seq=9, command_id=rec.id, status=CommandStatus.OK,
                            result={"pong": True})
        unit.publish(device_topic("box-c", kind), encode(res))
        assert wait_for(lambda: fleet.commands.get(rec.id).state == CmdState.SUCCEEDED)
    print(f"valid {kind.value} after {len(bad)} hostile ones applied in "
          f"{(time.monotonic() - sent) * 1000:.0f} ms")
    assert fleet._thread.is_alive()
    unit.publish(device_topic("box-c", DeviceTopic.CONFIG_REPORTED), b"", retain=True)
    unit.stop()

"""Issue 21 on the unit: hostile commands and desired-config documents
through the real broker are refused and counted; the agent goes on running
the valid ones that follow."""

from __future__ import annotations

import json

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol.codec import encode
from protocol.fleet import Command, CommandStatus, DesiredConfig, ReportedConfig, UnitSettings
from protocol.topics import DeviceTopic
from tests.agent.support import AgentThread, wait_for
from tests.agent.test_fleet import _agent, _command, _next, _result, _topic
from tests.agent.test_fleet import central as central_fixture
from tests.support.hostile import NEST_20K, NEST_80K

central = central_fixture  # the same central test client fixture


def hostile_documents(valid: dict) -> list[bytes]:
    text = json.dumps(valid)
    bad = [NEST_20K, b'{"v": 1, "args": ' + NEST_20K + b"}", NEST_80K, text.encode("utf-16"),
           text.encode("utf-32"), text.encode("utf-8-sig"), text.encode()[:-3],
           text.replace('"v": 1', '"v": Infinity').encode(),
           text.replace('"v": 1', '"v": ' + "9" * 4301).encode(),
           text.replace('"v": 1', '"v": true').encode()]
    assert all(b != text.encode() for b in bad)
    return bad


def publish_command(client, payload: bytes) -> None:
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = _topic(DeviceTopic.CMD_RES)
    props.CorrelationData = b"corr-h"
    client.client.publish(_topic(DeviceTopic.CMD), payload, qos=1, properties=props)


def test_hostile_commands_and_config_are_refused_and_the_agent_goes_on(tmp_path, broker, central,
                                                                       mock_pins):
    agent = _agent(tmp_path, broker)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        command = json.loads(encode(Command(name="ping", args={"n": 1})))
        no_id = {k: v for k, v in command.items() if k != "id"}
        commands = [*hostile_documents(command), json.dumps(no_id).encode(),
                    json.dumps({**command, "expires_at": "2026-11-23T03:00:00"}).encode(),
                    json.dumps({**command, "expires_at": 1_700_000_000}).encode()]
        for payload in commands:
            publish_command(central, payload)
        wait_for(lambda: agent.fleet.rejected_commands == len(commands), what="commands refused")
        res, _ = _result(central, _command(central, "ping"))
        assert res.status is CommandStatus.OK and res.result["pong"] is True

        desired = json.loads(encode(DesiredConfig(version=2, settings=UnitSettings(volume=7))))
        documents = [*hostile_documents(desired), json.dumps({**desired, "version": "3"}).encode(),
                     json.dumps({**desired, "version": 3.0}).encode(),
                     json.dumps({**desired, "version": True}).encode(),
                     json.dumps({**desired, "version": 10**30}).encode()]
        for payload in documents:
            central.publish(_topic(DeviceTopic.CONFIG_DESIRED), payload, retain=True)
        wait_for(lambda: agent.fleet.rejected_configs == len(documents), what="configs refused")
        central.publish(_topic(DeviceTopic.CONFIG_DESIRED), encode(DesiredConfig.model_validate(desired)),
                        retain=True)
        rep, _ = _next(central, DeviceTopic.CONFIG_REPORTED, ReportedConfig, lambda r: r.version == 2)
        assert rep.settings.volume == 7
        assert run.thread.is_alive()
    finally:
        central.publish(_topic(DeviceTopic.CONFIG_DESIRED), b"", retain=True)
        run.stop()

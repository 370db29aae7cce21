"""The agent reaps what it starts: after a `reboot` command whose program
exits (tests use a harmless one), no `<defunct>` child stays under it."""

from __future__ import annotations

from pathlib import Path

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol.codec import decode, encode
from protocol.fleet import Command, CommandResult
from protocol.topics import DeviceTopic, device_topic
from tests.agent.support import AgentProcess, base_config, wait_for, write_config
from tests.support.mqtt import TestClient

DEV = "box-reap"


def _children(pid: int) -> dict[int, str]:
    """{child pid: state letter} of every thread of ``pid``."""
    out: dict[int, str] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids = (task / "children").read_text().split()
        except FileNotFoundError:  # that thread ended since the listing
            continue
        for c in kids:
            try:
                stat = Path(f"/proc/{c}/stat").read_text()
            except FileNotFoundError:
                continue
            out[int(c)] = stat.rsplit(")", 1)[1].split()[0]
    return out


def test_reboot_command_leaves_no_zombie(tmp_path, broker):
    marker = tmp_path / "rebooted"
    cfg = base_config(tmp_path, broker, device_id=DEV, sim_control=str(tmp_path / "ctl.sock"),
                      # still running when the command's reply has gone out: the case
                      # that left `[true] <defunct>` under a loaded unit
                      reboot_command=["sh", "-c", f"sleep 0.5; touch {marker}"])
    agent = AgentProcess(write_config(tmp_path / "unit.yaml", **cfg), tmp_path / "ctl.sock",
                         tmp_path / "agent.log").start()
    central = TestClient(broker, "central-reap").start()
    try:
        central.subscribe(device_topic(DEV, DeviceTopic.CMD_RES))
        wait_for(lambda: agent.state()["connected"], what="agent connected")
        cmd = Command(name="reboot", args={})
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = device_topic(DEV, DeviceTopic.CMD_RES)
        props.CorrelationData = b"c"
        # what `siaga admin cmd <id> reboot` publishes
        central.client.publish(device_topic(DEV, DeviceTopic.CMD), encode(cmd), qos=1, properties=props)
        res = decode(CommandResult, central.get(timeout=15).payload)
        assert res.command_id == cmd.id and res.status == "ok"
        wait_for(marker.exists, what="the reboot command ran")
        pid = agent.proc.pid
        wait_for(lambda: "Z" not in _children(pid).values(), timeout=10,
                 what=f"no zombie under the agent: {_children(pid)}")
        assert agent.proc.poll() is None  # the agent itself goes on
    finally:
        central.stop()
        agent.terminate()

"""The other way a unit learns of a version: its desired config
(``firmware_version``, ``firmware_url``). A change starts the same signed
update path as the ``update`` command; a refusal shows in the unit's update
report; an unchanged target is not retried at the next config change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firmware.agent.agent import Agent
from firmware.agent.config import UnitConfig
from protocol.codec import encode
from protocol.fleet import DesiredConfig, UnitSettings
from protocol.topics import DeviceTopic, device_topic
from tests.agent.support import AgentThread, base_config, wait_for

DEV = "box-001"


def _desire(centre: Any, version: int, **settings: Any) -> None:
    doc = DesiredConfig(version=version, settings=UnitSettings(**settings))
    centre.client.publish(device_topic(DEV, DeviceTopic.CONFIG_DESIRED), encode(doc), qos=1,
                          retain=True).wait_for_publish(5)


def test_desired_firmware_version_starts_the_update_path(tmp_path: Path, broker: Any, mock_pins: Any,
                                                         release: Any, centre: Any) -> None:
    cfg = base_config(tmp_path, broker, device_id=DEV, heartbeat_s=5,
                      updates={"dir": str(tmp_path / "update"), "root_keys": [release.root_pub],
                               "download_retries": 0})
    agent = Agent(UnitConfig.model_validate(cfg))
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        # a version the repository does not have: the updater really went to fetch it
        _desire(centre, 1, firmware_version="9.9.9", firmware_url=release.url)
        wait_for(lambda: centre.update_state(DEV) and centre.update_state(DEV)[:2] == ("9.9.9", "failed"), 30,
                 what="9.9.9 failed")
        assert "download_failed" in centre.update_state(DEV)[2] and "404" in centre.update_state(DEV)[2]
        assert ("/9.9.9/targets.json", None) in release.handler.log
        # older than the running version: refused, and said so in the heartbeat
        _desire(centre, 2, firmware_version="0.0.1")
        wait_for(lambda: centre.update_state(DEV) and centre.update_state(DEV)[:2] == ("0.0.1", "failed"), 30,
                 what="0.0.1 refused")
        assert "rollback" in centre.update_state(DEV)[2]
        at = agent.updater.state["at"]
        # another setting changes; the target stays 0.0.1: no new attempt
        _desire(centre, 3, heartbeat_s=6)
        wait_for(lambda: agent.config_version == 3, 10, what="v3 applied")
        assert agent.updater.state["at"] == at and agent.settings.firmware_version == "0.0.1"
    finally:
        run.stop()


def test_an_update_never_takes_the_space_the_store_needs(tmp_path: Path, broker: Any, mock_pins: Any,
                                                         release: Any, centre: Any) -> None:
    release.publish("2.0.0")
    cfg = base_config(tmp_path, broker, device_id=DEV, heartbeat_s=5,
                      updates={"dir": str(tmp_path / "update"), "root_keys": [release.root_pub],
                               "base_url": release.url})
    cfg["storage"]["min_free_mb"] = 10_000_000  # more than this disk has: the store's floor wins
    agent = Agent(UnitConfig.model_validate(cfg))
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        assert centre.command(DEV, "update", {"version": "2.0.0"}).status == "ok"
        wait_for(lambda: centre.update_state(DEV) and centre.update_state(DEV)[:2] == ("2.0.0", "failed"), 30,
                 what="refused for space")
        assert "no_space" in centre.update_state(DEV)[2]
        assert not any(p.name.endswith(".whl") for p in (tmp_path / "update").rglob("*"))
    finally:
        run.stop()

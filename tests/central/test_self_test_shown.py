"""Every self-test result, pass or fail, reaches central and is shown per unit
(issue 17 item 6): the REAL agent on mock pins with the modem simulator, a
real Mosquitto with the site's ACL, central's fleet service and its API."""

from __future__ import annotations

from firmware.agent.agent import Agent
from gateway.fleet.commands import CmdState, run_command
from gateway.fleet.link import Link
from protocol.fleet import Profile
from tests.agent.support import AgentThread
from tests.central.conftest import wait_for
from tests.central.test_real_agent import agent_config, healthy_box


def _episodes(fleet, device):
    return [r for r in fleet.health.faults(device) if r["fault"] == "self_test_failed"]


def test_a_failing_daily_test_and_a_passing_command_test_both_reach_the_fleet_page(
        site, fleet, tmp_path, mock_pins, modem_sim):
    site.prov.add_device("box-9", profile=Profile.FIELD)
    cfg = agent_config(site, tmp_path, "box-9", modem_sim.url)
    cfg.modem.audio_test_s = 0.3
    cfg.self_test_daily_at = "00:00"  # due at once: the daily run happens on the first loop
    agent = Agent(cfg)
    healthy_box(mock_pins)
    agent.hw.board.set_dead("buzzer")
    # one dead part: the speaker's check needs the modem's audio loop, which the daily run on
    # the first loop may meet before the modem is up (tests/agent/test_selftest.py covers it)
    def row() -> dict:  # the fleet table's row (GET /api/devices)
        return next(d for d in site.central.fleet.device_rows() if d["id"] == "box-9")

    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        # the daily result rides on the heartbeat: central opens the episode and shows the parts
        assert wait_for(lambda: (row().get("self_test") or {}).get("trigger") == "daily", timeout=30), row()
        shown = row()["self_test"]
        assert shown["ok"] is False and shown["failed"] == ["buzzer"]
        assert wait_for(lambda: _episodes(fleet, "box-9"))
        assert _episodes(fleet, "box-9")[0]["detail"] == "buzzer"
        assert "self_test_failed" in row()["faults"]

        # repaired: a self-test on demand passes, closes the episode, and the page shows the pass
        agent.hw.board.set_dead("buzzer", False)
        with Link(site.settings.broker).start() as link:
            rec = run_command(fleet.commands, link, "box-9", "self_test", {}, timeout_s=30)
        assert rec.state == CmdState.SUCCEEDED
        assert rec.result["ok"] is True and rec.result["checks"]["buzzer"] == {"ok": True}
        assert wait_for(lambda: _episodes(fleet, "box-9")[0]["closed_at"])
        assert wait_for(lambda: (row().get("self_test") or {}).get("trigger") == "command", timeout=30)
        assert row()["self_test"]["ok"] is True and row()["self_test"]["failed"] == []
    finally:
        run.stop()

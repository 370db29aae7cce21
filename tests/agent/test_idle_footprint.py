"""What the idle agent keeps in memory: the mechanisms behind its idle RSS
(bench/agent_bench.py prints the number; no threshold here).

The agent runs in a fresh interpreter (the test process has imported half the
repository) with the unit file's interpreter flags, connects to a real broker,
turns its loop once after the link came up (status and first telemetry sent),
then reports which modules are imported and which pydantic models have been
built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from testkit.agent import REPO
from tests.agent.support import base_config, write_config

_PROBE = textwrap.dedent("""
    import json, queue, sys, threading, time
    from pathlib import Path

    import pydantic

    from firmware.agent import events as ev
    from firmware.agent.agent import Agent
    from firmware.agent.config import load_config
    from testkit.wait import wait_for

    agent = Agent(load_config(Path(sys.argv[1])))
    loop = threading.Thread(target=agent.run)
    loop.start()
    try:
        wait_for(lambda: agent.link.connected, 30, what="agent connected")
        # the first telemetry pass after connecting (a later loop turn on a loaded machine)
        mark = time.monotonic()
        wait_for(lambda: agent._next_telemetry > mark, 30, what="a telemetry pass")
        # a pass before the link was up sent nothing: wait for the telemetry itself
        from protocol.fleet import Telemetry
        wait_for(lambda: Telemetry.__pydantic_complete__, 30, what="telemetry sent")
        reply = queue.Queue()
        agent.enqueue(ev.OnLoop(lambda: None, reply))  # after the turn that handled the link-up
        reply.get(timeout=30)

        def subclasses(cls):
            for sub in cls.__subclasses__():
                yield sub
                yield from subclasses(sub)

        models = {f"{m.__module__}.{m.__qualname__}": m.__pydantic_complete__
                  for m in subclasses(pydantic.BaseModel)}
        print(json.dumps({"modules": sorted(sys.modules), "models": models}))
    finally:
        agent.request_stop(0)
        loop.join(30)
""")


def _unit_flags(state: Path) -> list[str]:
    """The interpreter flags systemd/siaga-unit.service gives the agent (before
    ``-m`` after ``--`` in ExecStart), its state directory replaced by ``state``."""
    text = (REPO / "systemd" / "siaga-unit.service").read_text()
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    args = exec_start.split(" -- ", 1)[1].split()
    return [a.replace("/var/lib/siaga", str(state)) for a in args[:args.index("-m")]]


def _idle_agent(tmp_path, broker) -> dict:
    cfg = base_config(tmp_path, broker, device_id="box-idle")  # field box, no modem, no sim_control
    path = write_config(tmp_path / "unit.yaml", **cfg)
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", PYTHONPATH=str(REPO), SIAGA_LOG_LEVEL="WARNING")
    # with the unit's flags (-OO, its bytecode cache): the agent must work without docstrings and asserts
    out = subprocess.run([sys.executable, *_unit_flags(tmp_path / "state"), "-c", _PROBE, str(path)],
                         capture_output=True, text=True, env=env, cwd=str(REPO), timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_idle_agent_loads_no_code_it_does_not_run_and_builds_only_the_models_it_uses(tmp_path, broker):
    seen = _idle_agent(tmp_path, broker)
    top = {m.split(".")[0] for m in seen["modules"]}
    # loaded on first use only: update signatures, the modem (serial, PDU codec), the CLI
    assert not top & {"cryptography", "serial", "smspdudecoder", "bitstring", "typer", "click"}
    # firmware.sim.board (the sense line under mock pins) without the modem simulator
    assert "firmware.sim.board" in seen["modules"]
    assert not {"firmware.sim.simulator", "firmware.modem.driver", "firmware.agent.simcontrol",
                "firmware.agent.selftest"} & set(seen["modules"])
    # imported where they are used: the other profile (panel desk, flag list), update signatures,
    # the reboot command's subprocess helper, the SMS codec, and the modem's events (no modem here)
    assert not {"firmware.agent.panel", "firmware.agent.flaglist", "firmware.agent.updsig",
                "firmware.agent.spawn", "protocol.smsfallback",
                "firmware.modem.events"} & set(seen["modules"])

    built = seen["models"]
    # used while idle: built on first use
    for used in ("protocol.fleet.Status", "protocol.fleet.Telemetry", "firmware.agent.config.UnitConfig"):
        assert built[used] is True, used
    # defer_build: payloads an idle box never handled have no validator yet
    for unused in ("protocol.reports.Incident", "protocol.reports.CallRecord", "protocol.reports.Ack",
                   "protocol.fleet.Command", "protocol.fleet.DesiredConfig",
                   "protocol.selftest.SelfTestReport", "protocol.mqtt.BrokerSettings",
                   "firmware.agent.config.Timings",
                   # sections left out of the file are their defaults, not validated on their own
                   "firmware.agent.config.ModemSettings", "firmware.agent.config.SmsFallbackSettings",
                   "firmware.agent.config.UpdateSettings"):
        assert built[unused] is False, unused

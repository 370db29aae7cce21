"""A unit notices a dead link within its keepalive (not two), as a field box
must: the agent runs in its own network namespace, joined to the broker by a
veth pair, and the link is cut by taking the host end down. No socket is
closed and no RST is sent: only the agent's own probe can tell."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from tests.agent.support import AgentProcess, base_config, wait_for, write_config
from tests.support.broker import Broker

KEEPALIVE_S = 6


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def netns():
    """(namespace, host-side veth, host address, unit address); removed after."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    tag = uuid.uuid4().hex[:6]
    ns, host_if, unit_if = f"siaga-{tag}", f"vh{tag}", f"vu{tag}"
    # a /30 of our own on our own veth pair (only these two namespaces see it)
    octet = int(tag[:2], 16)
    host_ip, unit_ip = f"10.253.{octet}.1", f"10.253.{octet}.2"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", unit_if)
        _ip("link", "set", unit_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{unit_ip}/30", "dev", unit_if)
        _ip("-n", ns, "link", "set", unit_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield ns, host_if, host_ip
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def test_cut_link_reported_within_one_and_a_half_keepalives(netns, broker_dir, tmp_path):
    ns, host_if, host_ip = netns
    broker = Broker(broker_dir / "broker", bind=host_ip)
    broker.host = host_ip  # where the harness checks it listens
    broker.start()
    d = tmp_path / "unit"
    d.mkdir()
    cfg = base_config(d, broker, device_id="box-netns", sim_control=str(d / "ctl.sock"),
                      timings={"same_incident_s": 0, "reconnect_max_s": 2, "loop_tick_s": 0.5})
    cfg["broker"]["keepalive_s"] = KEEPALIVE_S
    agent = AgentProcess(write_config(d / "unit.yaml", **cfg), d / "ctl.sock", d / "agent.log",
                         wrap=["ip", "netns", "exec", ns])
    agent.start()
    try:
        wait_for(lambda: agent.state()["connected"], timeout=20, what="agent connected over the veth")
        _ip("link", "set", host_if, "down")  # the cable is cut: nothing closes, nothing answers
        cut = time.monotonic()
        status, _ = agent.press("medical")  # stored, and the box must not say "delivered"
        assert status == "recorded"
        wait_for(lambda: not agent.state()["connected"], timeout=3 * KEEPALIVE_S,
                 what="agent reports the dead link")
        took = time.monotonic() - cut
        assert took <= 1.5 * KEEPALIVE_S, f"dead link noticed after {took:.1f}s"
        st = agent.state()
        assert st["leds"]["recorded"] and not st["leds"]["delivered"], st
        assert st["outbox_depth"] == 1
        print(f"dead link noticed after {took:.1f}s (keepalive {KEEPALIVE_S}s)")

        _ip("link", "set", host_if, "up")  # the link is back: the agent reconnects by itself
        wait_for(lambda: agent.state()["connected"], timeout=30, what="agent reconnected")
        assert "link dead" in (d / "agent.log").read_text().lower()
    finally:
        agent.terminate()
        broker.kill()

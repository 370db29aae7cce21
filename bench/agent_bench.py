"""Unit-agent benchmarks on loopback: press-to-stored latency, outbox drain
rate after an outage, idle RSS and CPU. Prints numbers; asserts nothing.

    .venv/bin/python bench/agent_bench.py [--only latency|drain|idle] [--presses 300]
        [--outage 10000] [--idle-s 20]

"Stored at centre" is the test responder's receipt (it stores by id and
acks, like the gateway's ingest but without its database), measured from
just before the mock button pin is driven. The agent commits each incident
with synchronous=FULL before sending (one fsync per press).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


from central.broker.process import MosquittoProcess as Broker  # noqa: E402
from testkit.agent import (  # noqa: E402
    AgentThread,
    Responder,
    base_config,
    wait_for,
    write_config,
)

BUTTON_PIN = 17  # field button_medical


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def _mock_pins():
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    Device.pin_factory = MockFactory()
    return Device.pin_factory


def _agent(tmp: Path, broker: Broker, **timings):
    from firmware.agent.agent import Agent
    from firmware.agent.config import UnitConfig

    cfg = base_config(tmp, broker, device_id="box-bench", timings={"same_incident_s": 0, **timings})
    return Agent(UnitConfig.model_validate(cfg))


def bench_latency(tmp: Path, presses: int) -> None:
    broker = Broker(tmp / "broker-lat")
    broker.start()
    responder = Responder(broker, client_id="bench-gw-lat").start()
    pins = _mock_pins()
    (tmp / "lat").mkdir()
    agent = _agent(tmp / "lat", broker)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        pin = pins.pin(BUTTON_PIN)
        lat = []
        for i in range(presses):
            t0 = time.monotonic()
            pin.drive_low()
            pin.drive_high()
            wait_for(lambda n=i + 1: len(responder.order) >= n, 10, interval=0.0002)
            _dev, msg_id, _seq = responder.order[i]
            lat.append((responder.arrivals[msg_id] - t0) * 1000)
            time.sleep(0.005)
        wait_for(lambda: agent.store.outbox_depth() == 0, 30)
    finally:
        run.stop()
        responder.stop()
        broker.kill()
    print(f"press -> stored at centre, loopback, {presses} presses: "
          f"p50 {_pct(lat, 50):.2f} ms, p99 {_pct(lat, 99):.2f} ms, max {max(lat):.2f} ms, "
          f"mean {statistics.mean(lat):.2f} ms")


def bench_drain(tmp: Path, outage: int, window: int) -> None:
    broker = Broker(tmp / "broker-drain")
    broker.start()
    responder = Responder(broker, client_id="bench-gw-drain", persistent=True).start()
    pins = _mock_pins()
    (tmp / "drain").mkdir()
    agent = _agent(tmp / "drain", broker, inflight_max=window, ack_timeout_s=30, reconnect_max_s=1)
    run = AgentThread(agent).start()
    try:
        run.wait_connected()
        broker.stop()
        wait_for(lambda: not agent.link.connected, 30)
        pin = pins.pin(BUTTON_PIN)
        t0 = time.monotonic()
        for _ in range(outage):
            pin.drive_low()
            pin.drive_high()
        wait_for(lambda: agent.store.outbox_depth() >= outage, 600, interval=0.05)
        rec_s = time.monotonic() - t0
        print(f"outage: {outage} presses committed (FULL) in {rec_s:.1f} s "
              f"= {outage / rec_s:.0f} incidents/s")
        broker.start()
        wait_for(lambda: agent.link.connected, 60, interval=0.005)
        t1 = time.monotonic()
        wait_for(lambda: agent.store.outbox_depth() == 0, 600, interval=0.01)
        drain_s = time.monotonic() - t1
        wait_for(lambda: len(responder.stored) >= outage, 60)
    finally:
        run.stop()
        responder.stop()
        broker.kill()
    print(f"drain after outage: {outage} incidents acked in {drain_s:.2f} s = "
          f"{outage / drain_s:.0f} incidents/s (window {window}); "
          f"centre saw {responder.received} messages, {responder.duplicates} duplicates, "
          f"{len(responder.stored)} unique")


def _proc_stat(pid: int) -> tuple[float, float]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return cpu, rss / 1024


def unit_file_command() -> tuple[list[str], dict[str, str], str]:
    """The interpreter arguments, environment and state directory
    systemd/siaga-unit.service gives the agent: what follows ``--`` in
    ExecStart (the boot guard execs the slot's Python with them), every
    Environment= line and ``/var/lib/<StateDirectory=>``. The idle bench runs
    the agent with exactly these, so a flag or a malloc setting added to the
    unit is measured, and one that is only in the bench is not possible."""
    args: list[str] = []
    env: dict[str, str] = {}
    state = ""
    for line in (REPO / "systemd" / "siaga-unit.service").read_text().splitlines():
        if line.startswith("ExecStart="):
            args = line.split(" -- ", 1)[1].split()
        elif line.startswith("Environment="):
            for item in line.split("=", 1)[1].split():
                k, v = item.split("=", 1)
                env[k] = v
        elif line.startswith("StateDirectory="):
            state = "/var/lib/" + line.split("=", 1)[1].strip()
    cfg = args.index("--config")
    return args[:cfg], env, state  # e.g. ["-OO", ..., "-m", "firmware.agent"]; the config path is the bench's


class _Online:
    """Waits for the unit's retained ``status`` "online": the agent is up and
    connected, seen from the broker (no test-only control socket in the process)."""

    def __init__(self, broker: Broker, device: str) -> None:
        import threading

        from protocol.mqtt import BrokerSettings, connect, make_client
        from protocol.topics import DeviceTopic, device_topic

        self.online = threading.Event()
        self.client = make_client(f"bench-watch-{device}", BrokerSettings(host=broker.host, port=broker.port))
        topic = device_topic(device, DeviceTopic.STATUS)

        def on_connect(client, _u, _f, rc, _p):  # type: ignore[no-untyped-def]
            if not rc.is_failure:
                client.subscribe(topic, 1)

        def on_message(_c, _u, msg):  # type: ignore[no-untyped-def]
            if b'"online"' in msg.payload:
                self.online.set()

        self.client.on_connect = on_connect
        self.client.on_message = on_message
        connect(self.client, BrokerSettings(host=broker.host, port=broker.port), clean_start=True)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _agent_env(unit_env: dict[str, str]) -> dict[str, str]:
    """The agent's environment as the unit gives it: the boot guard execs it
    with ``-I``, so no ``PYTHON*`` variable reaches it (this machine's
    PYTHONDONTWRITEBYTECODE=1 would stop the bytecode cache being written, the
    unit's own PYTHONUNBUFFERED is ignored too). The bench keeps one: PYTHONPATH,
    the repository in place of the installed package (why it cannot pass -I)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({k: v for k, v in unit_env.items() if not k.startswith("PYTHON")})
    return dict(env, GPIOZERO_PIN_FACTORY="mock", PYTHONPATH=str(REPO))


def _start_idle(entry: list[str], d: Path, broker: Broker, device: str,
                env: dict[str, str]) -> tuple[subprocess.Popen[bytes], _Online]:
    """One agent process, up and connected (its retained status "online")."""
    d.mkdir()
    cfg = base_config(d, broker, device_id=device)
    cfg["timings"]["loop_tick_s"] = 0.5  # the production default
    cfg["heartbeat_s"] = 60
    path = write_config(d / "unit.yaml", **cfg)
    watch = _Online(broker, device)
    with open(d / "agent.log", "ab") as logf:
        proc = subprocess.Popen([sys.executable, *entry, "--config", str(path)], stdout=logf,
                                stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    wait_for(lambda: watch.online.is_set() or proc.poll() is not None, 120)
    if proc.poll() is not None:
        watch.close()
        tail = (d / "agent.log").read_text()[-2000:]
        raise RuntimeError(f"agent exited {proc.returncode}: {tail}")
    return proc, watch


def _stop(proc: subprocess.Popen[bytes], watch: _Online) -> None:
    proc.terminate()
    proc.wait(30)
    watch.close()


def bench_idle(tmp: Path, idle_s: float) -> None:
    """Idle RSS and CPU of the agent as systemd runs it (systemd/siaga-unit.service:
    its interpreter arguments, environment and state directory) and as ``siaga
    unit`` (Typer on top). Mock pins (GPIOZERO_PIN_FACTORY=mock) stand in for
    the Pi's GPIO; the config is the field box of the agent tests (no modem, no
    TLS). Each is measured at its second start: the first one after an install
    or an update writes the bytecode cache (``-X pycache_prefix`` in the state
    directory), as on a unit."""
    broker = Broker(tmp / "broker-idle")
    broker.start()
    unit_args, unit_env, state_dir = unit_file_command()
    state = tmp / "state"  # stands in for /var/lib/siaga
    state.mkdir()
    unit_args = [a.replace(state_dir, str(state)) if state_dir else a for a in unit_args]
    env = _agent_env(unit_env)
    try:
        flags = unit_args[:unit_args.index("-m")]  # interpreter flags
        cli = [*flags, "-m", "siaga", "unit"]
        for entry, what in ((unit_args, f"python {' '.join(unit_args)} (as systemd runs it)"),
                            (cli, f"python {' '.join(cli)}")):
            tag = "lean" if entry == unit_args else "cli"
            _stop(*_start_idle(entry, tmp / f"first-{tag}", broker, f"box-first-{tag}", env))
            proc, watch = _start_idle(entry, tmp / f"idle-{tag}", broker, f"box-idle-{tag}", env)
            try:
                time.sleep(2)  # let start-up work settle before the idle window
                cpu0, _ = _proc_stat(proc.pid)
                t0 = time.monotonic()
                time.sleep(idle_s)
                cpu1, rss = _proc_stat(proc.pid)
                wall = time.monotonic() - t0
                with open(f"/proc/{proc.pid}/status") as f:
                    threads = next(line.split()[1] for line in f if line.startswith("Threads:"))
            finally:
                _stop(proc, watch)
            load = Path("/proc/loadavg").read_text().split()[:3]
            shown = what.replace(str(state), state_dir)
            print(f"idle agent ({shown}, field, no modem, mock pins, connected): RSS {rss:.1f} MB, "
                  f"CPU {100 * (cpu1 - cpu0) / wall:.2f} % of one core over {wall:.0f} s, "
                  f"{threads} threads; load {' '.join(load)}", flush=True)
    finally:
        broker.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["latency", "drain", "idle"])
    ap.add_argument("--presses", type=int, default=300)
    ap.add_argument("--outage", type=int, default=10_000)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--idle-s", type=float, default=20.0)
    args = ap.parse_args()
    import logging
    logging.basicConfig(level=logging.WARNING)
    from central.broker.files import broker_tempdir

    tmp = broker_tempdir(prefix="siaga-agent-bench-")  # the broker drops to mosquitto as root
    print(f"unit agent bench ({os.cpu_count()} cores, {sys.version.split()[0]})", flush=True)
    if args.only in (None, "latency"):
        bench_latency(tmp, args.presses)
    if args.only in (None, "drain"):
        bench_drain(tmp, args.outage, args.window)
    if args.only in (None, "idle"):
        bench_idle(tmp, args.idle_s)
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``siaga sim modem``: the demo's way to ring a panel from a shell."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.modem import pdu
from firmware.modem.events import CallEnded, EndReason, Ringing
from firmware.sim import ModemSimulator, deliver
from firmware.sim.control import run_command
from tests.modem.conftest import FAST, modem_for, wait_for

SIAGA = shutil.which("siaga") or str(Path(sys.executable).parent / "siaga")


@pytest.mark.parametrize("transport", ["--pty", "--tcp"])
def test_cli_simulator_rings_a_driver(transport):
    args = [SIAGA, "sim", "modem", "--control", "0", "--ring-interval", "0.2"]
    args += ["--pty"] if transport == "--pty" else ["--tcp", "0"]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline().strip()
        url = first.split(": ", 1)[1]
        assert url.startswith("/dev/pts/" if transport == "--pty" else "socket://127.0.0.1:")
        host, port = proc.stdout.readline().strip().split(": ", 1)[1].split(":")
        m = modem_for(url)
        m.start()
        try:
            proc.stdin.write("call +6281234567890\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "ok"
            assert wait_for(m.events, Ringing).number == "+6281234567890"
            with socket.create_connection((host, int(port)), timeout=10) as c, c.makefile("rw") as f:
                f.write("hangup\n")
                f.flush()
                assert f.readline().strip() == "ok"
                f.write("bogus\n")
                f.flush()
                assert f.readline().startswith("error")
            assert wait_for(m.events, CallEnded).reason is EndReason.ABANDONED
        finally:
            m.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode in (0, -signal.SIGINT, 130)


def test_cli_refuses_bad_arguments():
    r = subprocess.run([SIAGA, "sim", "modem"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--pty" in r.stderr
    r = subprocess.run([SIAGA, "sim", "modem", "--pty", "--profile", "nokia"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "profile" in r.stderr


def test_control_language():
    sim = ModemSimulator("sim800", **FAST)
    try:
        assert run_command(sim, "call +628123") == "ok"
        assert "call=ringing" in run_command(sim, "state")
        assert run_command(sim, "call +628999").startswith("error")  # already ringing
        assert run_command(sim, "hangup") == "ok"
        assert run_command(sim, "sms +628123").startswith("error")
        assert run_command(sim, "sms +628123 Banjir di RT 05") == "ok"
        stored = pdu.decode(deliver.with_smsc(sim.storage[1]["tpdu"]))
        assert (stored.sender, stored.text) == ("+628123", "Banjir di RT 05")
        assert run_command(sim, "reg off") == "ok" and not sim.registered
        assert run_command(sim, "signal x").startswith("error")
        assert run_command(sim, "").startswith("ok")
        assert "call [number]" in run_command(sim, "help")
    finally:
        sim.stop()


def test_cli_stops_on_sigterm():
    proc = subprocess.Popen([SIAGA, "sim", "modem", "--pty"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("modem sim800: /dev/pts/")
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

"""The simulated GSM network: real drivers on two simulators call and text each other."""

from __future__ import annotations

import socket

import pytest

from firmware.modem import events as ev
from firmware.sim import ModemSimulator
from firmware.sim.netcontrol import NetworkHost
from firmware.sim.network import GsmNetwork, normalise
from tests.modem.conftest import FAST, modem_for, until, wait_for

BOX, CENTRE, PANEL = "+6281100000001", "+6281100000112", "+6281100000200"


@pytest.fixture
def net():
    n = GsmNetwork(sms_delay_s=0.05, call_delay_s=0.02, seed=1)
    sims: list[ModemSimulator] = []
    mods = []

    def join(number: str):
        sim = n.attach(number, ModemSimulator("sim800", **FAST))
        sim.start_tcp()
        m = modem_for(sim.url)
        m.start()
        sims.append(sim)
        mods.append(m)
        return sim, m

    n.join = join
    yield n
    for m in mods:
        m.close()
    for s in sims:
        s.stop()
    n.close()


def test_numbers_are_normalised():
    assert normalise("0811-0000-0001") == "+6281100000001" == normalise("6281100000001")
    assert normalise("112") == "112"


def test_a_box_sms_arrives_at_the_centre_modem(net):
    _box_sim, box = net.join(BOX)
    _c_sim, centre = net.join(CENTRE)
    box.send_sms(CENTRE, "SG1 hello from the box")
    got = wait_for(centre.events, ev.SmsReceived)
    assert got.number == BOX and got.text == "SG1 hello from the box"
    assert net.log[-1]["fate"] == "delivered"


def test_a_dial_out_rings_the_panel_and_both_ends_see_the_hang_up(net):
    box_sim, box = net.join(BOX)
    panel_sim, panel = net.join(PANEL)
    box.dial(PANEL)
    ring = wait_for(panel.events, ev.Ringing)
    assert ring.number == BOX
    assert panel.answer()
    wait_for(box.events, ev.CallActive)
    assert until(lambda: box_sim.call_state == "active")
    box.hang_up()
    ended = wait_for(panel.events, ev.CallEnded)
    assert ended.answered and panel_sim.call_state == "idle"


def test_no_coverage_holds_sms_until_it_returns_and_refuses_dialling(net):
    box_sim, box = net.join(BOX)
    _c, centre = net.join(CENTRE)
    net.set_coverage(CENTRE, False)
    box.send_sms(CENTRE, "held at the SMSC")
    assert until(lambda: net.log and net.log[-1]["fate"] == "held")
    assert centre.events.empty() or not any(isinstance(e, ev.SmsReceived) for e in list(centre.events.queue))
    net.set_coverage(CENTRE, True)
    assert wait_for(centre.events, ev.SmsReceived).text == "held at the SMSC"
    net.set_coverage(BOX, False)
    assert until(lambda: not box_sim.registered)
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error for NO DIALTONE / +CMS 331
        box.send_sms(CENTRE, "no network")


def test_loss_drops_a_share_of_sms_and_phones_keep_what_they_get(net):
    phone = net.phone("081100000999")
    net.loss = 1.0
    net.send_sms(BOX, phone.number, "lost")
    assert net.log[-1]["fate"] == "lost"
    net.loss = 0.0
    net.send_sms(BOX, phone.number, "kept")
    assert until(lambda: phone.texts() == ["kept"])


def test_a_phone_calls_a_modem(net):
    _p_sim, panel = net.join(PANEL)
    net.phone("+6285700000001").call(PANEL)
    assert wait_for(panel.events, ev.Ringing).number == "+6285700000001"


def test_control_port_serves_modems_and_steers_the_network():
    from firmware.sim.control import ControlServer

    host = NetworkHost(GsmNetwork(sms_delay_s=0.01))
    server = ControlServer(None, handler=host.run)
    try:
        with socket.create_connection((server.host, server.port), timeout=5) as s, s.makefile("rwb") as f:
            def ask(line: str) -> str:
                f.write(line.encode() + b"\n")
                f.flush()
                return f.readline().decode().strip()

            url = ask(f"modem {CENTRE}")
            assert url.startswith("ok socket://127.0.0.1:")
            assert ask("sms +6285700000001 " + CENTRE + " tolong banjir") == "ok"
            sim = host.sims[CENTRE]
            assert until(lambda: len(sim.storage) == 1)
            assert ask(f"coverage {CENTRE} off") == "ok"
            assert until(lambda: not sim.registered)
            assert ask("bogus").startswith("error")
            assert '"+6281100000112"' in ask("state")
    finally:
        server.close()
        host.close()


def test_siaga_sim_network_serves_modems_that_text_each_other():
    """The CLI as separate processes use it: drivers on two of its modems."""
    import shutil
    import signal
    import subprocess
    import sys
    from pathlib import Path

    siaga = shutil.which("siaga") or str(Path(sys.executable).parent / "siaga")
    proc = subprocess.Popen([siaga, "sim", "network", "--modem", BOX, "--modem", f"{CENTRE}=sim7600",
                             "--control", "0", "--sms-delay", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        urls = {}
        for _ in range(2):
            line = proc.stdout.readline().strip()  # "modem +62...: socket://..."
            number, url = line.removeprefix("modem ").split(": ", 1)
            urls[number] = url
        host, port = proc.stdout.readline().strip().split(": ", 1)[1].split(":")
        box, centre = modem_for(urls[BOX]), modem_for(urls[CENTRE], "sim7600")
        box.start()
        centre.start()
        try:
            box.send_sms(CENTRE, "SG1 dari proses lain")
            assert wait_for(centre.events, ev.SmsReceived).text == "SG1 dari proses lain"
            with socket.create_connection((host, int(port)), timeout=10) as c, c.makefile("rw") as f:
                f.write(f"sms +6285700000001 {BOX} halo\n")
                f.flush()
                assert f.readline().strip() == "ok"
            assert wait_for(box.events, ev.SmsReceived).number == "+6285700000001"
        finally:
            box.close()
            centre.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0

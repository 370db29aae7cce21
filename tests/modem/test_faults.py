"""Faults real modems have, injected through the simulator over a real pty."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from firmware.modem import ModemError, ModemPortError, ModemTimeout
from firmware.modem.events import (
    CallActive,
    CallEnded,
    EndReason,
    ModemFault,
    ModemRestarted,
    NetworkTime,
    RegistrationChanged,
    Ringing,
    SmsReceived,
)
from firmware.sim import ModemSimulator
from tests.modem.conftest import FAST, modem_for, sweep_done, until, wait_for

WIB = timezone(timedelta(hours=7))


@pytest.fixture
def gpio():
    """gpiozero's mock pin factory, restored afterwards."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    old = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = old


def _fast_modem(sim, **kw):
    opts = {"command_timeout": 0.3, "watchdog_interval": 0.3, "boot_timeout": 0.5}
    opts.update(kw)
    return modem_for(sim.url, sim.profile.driver, **opts)


def test_silent_modem_mid_call_is_noticed_and_recovered(sim):
    m = _fast_modem(sim)
    m.start()
    try:
        sim.incoming_call("+628123")
        wait_for(m.events, Ringing)
        m.answer()
        wait_for(m.events, CallActive)
        sim.go_silent(True)
        fault = wait_for(m.events, ModemFault, where=lambda e: e.code == "modem_silent")
        assert fault.detail
        ended = wait_for(m.events, CallEnded)
        assert ended.reason is EndReason.MODEM_RESET  # reported as ended, not lost
        sim.go_silent(False)  # it comes back by itself (or after the CFUN reset)
        restarted = wait_for(m.events, ModemRestarted)
        assert restarted.reason == "silent" and m.resets == 1
        assert m.signal() == -73
    finally:
        m.close()


def test_hung_modem_is_reset_through_the_gpio_line(sim, gpio):
    """Only a hardware reset revives it: re-init and AT+CFUN=1,1 fail first."""
    pin = gpio.pin(4)
    m = _fast_modem(sim, reset_pin=4, reset_pulse=0.1)
    m.start()
    sim.attach_reset_pin(pin)
    try:
        boots = sim.boots
        sim.go_silent(True)
        restarted = wait_for(m.events, ModemRestarted)
        assert restarted.reason == "silent"
        assert sim.boots == boots + 1  # the pulse rebooted it
        assert m.counters["gpio_resets"] >= 1
        assert sim.s["clip"] == 1  # re-initialised after the reset
    finally:
        m.close()


def test_brownout_power_down_then_gpio_power_on(sim, gpio):
    m = _fast_modem(sim, reset_pin=4, reset_pulse=0.1, watchdog_interval=30, command_timeout=2.0)
    m.start()
    sim.attach_reset_pin(gpio.pin(4))
    try:
        sim.incoming_call("+628123")
        wait_for(m.events, Ringing)
        sim.under_voltage(power_down=True)
        fault = wait_for(m.events, ModemFault, where=lambda e: e.code == "under_voltage_power_down")
        assert "POWER DOWN" in fault.detail
        assert wait_for(m.events, CallEnded).reason is EndReason.MODEM_RESET
        assert wait_for(m.events, ModemRestarted).reason == "under_voltage_power_down"
        assert sim.powered
    finally:
        m.close()


def test_under_voltage_warning_is_a_fault_event(pair):
    sim, m = pair
    sim.under_voltage()
    ev = wait_for(m.events, ModemFault)
    assert ev.code == "under_voltage"
    assert m.signal() == -73  # and nothing else happens


def test_garbage_bytes_are_survived_and_counted(modem, sim):
    assert until(lambda: sweep_done(sim))  # an injected line must come between commands
    sim.inject(b"\xff\xfe\x00\x13garb\x80age\r\n\x00\x00")
    sim.incoming_call("+628123")
    assert wait_for(modem.events, Ringing).number == "+628123"
    assert modem.answer()
    assert until(lambda: modem._channel.garbage > 0)
    sim.inject(b"\r\n+NOT-A-URC: 1\r\n")  # outside any command: counted, not lost silently
    assert until(lambda: modem.counters["unknown_lines"] >= 1)
    assert modem.self_test()["garbage_bytes"] > 0


def test_split_and_trickled_lines(pair):
    sim, m = pair
    sim.set_split_writes(True)
    sim.incoming_call("+6281234567890")
    assert wait_for(m.events, Ringing).number == "+6281234567890"
    assert m.answer()
    sim.remote_hangup()
    assert wait_for(m.events, CallEnded).reason is EndReason.REMOTE_HANGUP
    sim.receive_sms("+628111", "Banjir — tolong")
    assert wait_for(m.events, SmsReceived).text == "Banjir — tolong"
    assert m.signal() == -73


def test_urc_in_the_middle_of_a_reply(modem, sim):
    sim.inject_in_next_reply(b'\r\nRING\r\n\r\n+CLIP: "+628555",145,"",0,"",0\r\n')
    assert modem.signal() == -73  # the reply is intact
    assert wait_for(modem.events, Ringing).number == "+628555"


def test_call_finals_during_another_command_are_urcs(modem, sim):
    """NO CARRIER arriving while AT+CSQ waits ends the call, not the CSQ."""
    sim.incoming_call("+628123")
    wait_for(modem.events, Ringing)
    modem.answer()
    wait_for(modem.events, CallActive)
    with sim._lock:
        sim._call = None
    sim.inject_in_next_reply(b"\r\nNO CARRIER\r\n")
    assert modem.signal() == -73
    assert wait_for(modem.events, CallEnded).reason is EndReason.REMOTE_HANGUP


def test_slow_replies(sim):
    m = modem_for(sim.url, command_timeout=1.0)
    m.start()
    try:
        # let the start-up SMS sweep finish, so only this test's commands are slowed
        assert until(lambda: sweep_done(sim))
        assert m.signal() == -73
        sim.set_reply_delay(0.3)
        assert m.signal() == -73  # slow but within the timeout
        sim.set_reply_delay(1.5)
        with pytest.raises(ModemTimeout):
            m.signal()
        sim.set_reply_delay(0)
        # at once, while the late +CSQ/OK is still coming: it must not pass for
        # the next command's answer
        assert m.registration() == "home"
        assert m.signal() == -73
        assert m._channel.counters["resyncs"] >= 1  # (the start-up SMS sweep may time out too)
        assert m._channel.counters["stray_finals"] >= 1
    finally:
        m.close()


def test_registration_changes(pair):
    sim, m = pair
    assert wait_for(m.events, RegistrationChanged).state == "home"  # from init
    sim.set_registered(False)
    assert wait_for(m.events, RegistrationChanged).state == "searching"
    assert m.registration() == "searching"
    sim.set_registered(True, roaming=True)
    assert wait_for(m.events, RegistrationChanged).state == "roaming"
    assert m.self_test()["registered"] is True


def test_network_time(pair):
    sim, m = pair
    assert m.network_time() is None  # the modem clock was never set
    when = datetime(2026, 11, 23, 21, 15, 0, tzinfo=WIB)
    sim.set_network_time(when)
    ev = wait_for(m.events, NetworkTime)
    assert abs((ev.time - when).total_seconds()) < 5
    got = m.network_time()
    assert got is not None and abs((got - when).total_seconds()) < 5
    assert got.utcoffset() == timedelta(hours=7)


def test_missing_sim_is_reported_not_fatal():
    sim = ModemSimulator("sim800", **FAST)
    sim.sim_present = False
    sim.start_pty()
    m = modem_for(sim.url)
    try:
        m.start()
        assert wait_for(m.events, ModemFault).code == "sim_missing"
        report = m.self_test()
        assert report["responds"] is True and report["sim_ready"] is False
    finally:
        m.close()
        sim.stop()


def test_self_test_report(pair):
    sim, m = pair
    r = m.self_test()
    assert r["responds"] and r["sim_ready"] and r["registered"]
    assert r["signal_dbm"] == -73
    assert r["model"] == sim.profile.model
    assert r["errors"] == []


def test_profile_specific_init_steps(pair):
    sim, _ = pair
    own, other = ("AT+CLTS=1", "AT+CTZU=1") if sim.profile.name == "sim800" else ("AT+CTZU=1", "AT+CLTS=1")
    assert own in sim.commands and other not in sim.commands


def test_init_survives_refused_optional_steps():
    """A SIM7600-class modem driven with the SIM800 profile refuses AT+CLTS; init goes on."""
    sim = ModemSimulator("sim7600", **FAST)
    sim.start_pty()
    m = modem_for(sim.url, "sim800")
    try:
        m.start()
        assert "AT+CLTS=1" in sim.commands and "AT+CREG?" in sim.commands
        sim.incoming_call("+628123")
        assert wait_for(m.events, Ringing).number == "+628123"
    finally:
        m.close()
        sim.stop()


def test_start_on_missing_port_and_on_dead_modem():
    with pytest.raises(ModemPortError):
        modem_for("/dev/does-not-exist").start()
    sim = ModemSimulator("sim800", **FAST)
    sim.start_pty()
    sim.go_silent(True)
    try:
        with pytest.raises(ModemError):
            modem_for(sim.url, command_timeout=0.2).start()
    finally:
        sim.stop()


def test_broken_link_is_reopened():
    """The TCP link drops (like a USB modem re-enumerating): the driver reopens it."""
    sim = ModemSimulator("sim800", **FAST)
    url = sim.start_tcp()
    m = modem_for(url)
    m._channel.reopen_delay = 0.05
    m.start()
    try:
        with sim._ep._lock:
            sim._ep._client.close()
            sim._ep._client = None
        assert until(lambda: m._channel.counters["reopens"] >= 1)
        sim.incoming_call("+628123")
        assert wait_for(m.events, Ringing).number == "+628123"
    finally:
        m.close()
        sim.stop()


def test_echo_back_on_is_tolerated(modem, sim):
    """After an unnoticed reboot the modem echoes again; echoes are not answers."""
    modem.at("ATE1")
    assert sim.s["echo"] is True
    assert modem.signal() == -73
    assert modem.registration() == "home"
    assert modem.send_sms("+628110", "Tes gema") == 1
    assert sim.sent_sms == [("+628110", "Tes gema")]


def test_call_rings_during_a_multipart_send(modem, sim):
    from tests.modem.test_sms import LONG_ID

    sim.inject_in_next_reply(b'\r\nRING\r\n\r\n+CLIP: "+628555",145,"",0,"",0\r\n')
    parts = modem.send_sms("+628110", LONG_ID)
    assert parts >= 5 and sim.sent_sms == [("+628110", LONG_ID)]
    assert wait_for(modem.events, Ringing).number == "+628555"


def test_sms_that_arrived_while_the_modem_was_hung_is_not_lost(sim):
    m = _fast_modem(sim)
    m.start()
    try:
        assert until(lambda: sweep_done(sim))  # start-up sweep done
        sim.go_silent(True)
        sim.receive_sms("+628777", "Kirim ambulans ke Desa Sukamaju")  # its +CMTI is lost
        wait_for(m.events, ModemFault, where=lambda e: e.code == "modem_silent")
        sim.go_silent(False)
        wait_for(m.events, ModemRestarted)
        ev = wait_for(m.events, SmsReceived)  # swept after recovery
        assert ev.text == "Kirim ambulans ke Desa Sukamaju"
        assert until(lambda: not sim.storage)
    finally:
        m.close()

"""The modem's audio loop test (firmware/modem/audio.py) against the
simulator's tone generator and recorder (firmware/sim/sim_audio.py): a
healthy path passes, a dead speaker or microphone fails and is told apart,
a profile without the commands is "not checkable", and a call in progress
is never played into."""

from __future__ import annotations

import math

import pytest

from firmware.modem.audio import rms_dbfs, tone_dbfs
from firmware.modem.errors import ModemCommandError
from firmware.sim import ModemSimulator
from tests.modem.conftest import FAST, running, until


@pytest.fixture
def sim800():
    s = ModemSimulator("sim800", **FAST)
    s.start_pty()
    yield s
    s.stop()


def test_healthy_dead_speaker_and_dead_microphone_are_told_apart(sim800):
    with running(sim800) as m:
        ok = m.audio_loop(record_s=0.3)
        assert ok["ok"] is True and ok["speaker"] is True and ok["microphone"] is True
        assert ok["tone_dbfs"] > -30 and ok["floor_dbfs"] > -75
        sim800.speaker_ok = False
        spk = m.audio_loop(record_s=0.3)
        assert (spk["ok"], spk["speaker"], spk["microphone"]) == (False, False, True)
        sim800.speaker_ok, sim800.mic_ok = True, False
        mic = m.audio_loop(record_s=0.3)
        assert (mic["ok"], mic["speaker"], mic["microphone"]) == (False, None, False)
        assert "microphone silent" in mic["detail"]
    # the commands the driver used are the documented SIM800 ones
    assert any(c.startswith("AT+SIMTONE=1,1000,") for c in sim800.commands)
    assert any(c.startswith("AT+CREC=6,") for c in sim800.commands)
    assert sim800.tone is None  # the tone was stopped


def test_a_profile_without_the_commands_is_not_checkable():
    s = ModemSimulator("sim7600", **FAST)
    s.start_pty()
    try:
        with running(s) as m:
            got = m.audio_loop(record_s=0.3)
            assert got["supported"] is False and got["ok"] is None
            with pytest.raises(ModemCommandError):  # the simulated part refuses SIM800's commands too
                m.at("AT+SIMTONE=1,1000,200,0,1000")
    finally:
        s.stop()


def test_no_tone_into_a_call_in_progress(sim800):
    with running(sim800) as m:
        sim800.incoming_call("+6281234567890")
        assert until(lambda: str(m.call_state) == "ringing")
        got = m.audio_loop(record_s=0.3)
        assert got["ok"] is None and "call in progress" in got["detail"]
        assert not any(c.startswith("AT+CREC") for c in sim800.commands)


def test_bad_recorder_arguments_are_refused(sim800):
    with running(sim800) as m:
        for cmd in ("AT+CREC=1,11,1,1", "AT+CREC=1,1,0,1", "AT+CREC=6,9,100,0", "AT+SIMTONE=1,5,200,0,1000"):
            with pytest.raises(ModemCommandError):
                m.at(cmd)


def test_the_level_meters():
    sine = [int(8000 * math.sin(2 * math.pi * 1000 * i / 8000)) for i in range(800)]
    assert abs(tone_dbfs(sine, 1000) - 20 * math.log10(8000 / 32768 / math.sqrt(2))) < 0.5
    assert tone_dbfs(sine, 300) < tone_dbfs(sine, 1000) - 30
    assert rms_dbfs([0] * 100) == -120.0 and rms_dbfs([]) == -120.0

"""The unit's self-test: every part a citizen relies on, each able to fail.

Why each check proves something: an output pin reads back what was written
even with the LED open or the buzzer burnt, so on the field board every LED
and the buzzer are switched on alone and the load-sense line must show
current (docs/hardware.md); the modem answers, has its SIM, is registered
with usable signal; the modem plays a tone that the microphone must record
(firmware/modem/audio.py); no button is held; storage takes a write; the
clock is plausible. The result follows ``protocol.selftest.SelfTestReport``:
``checks`` name -> ``{ok, detail}``, ``failed`` the names that failed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from firmware.agent.health import WEAK_SIGNAL_DBM
from protocol.selftest import SelfTestTrigger

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.hardware import Hardware
    from firmware.agent.health import HealthHost as Agent  # what of the agent the checks read

#: a clock before this was never set (a Pi without RTC boots at its image date or 1970)
CLOCK_FLOOR = datetime(2025, 1, 1, tzinfo=UTC)
#: the sense line's 1 ms RC filter and the comparator settle well inside this (docs/hardware.md)
SENSE_SETTLE_S = 0.01


def _check(ok: bool | None, detail: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"ok": ok}
    if detail:
        out["detail"] = detail[:200]
    return out


def check_buttons(hw: Hardware) -> dict[str, dict[str, Any]]:
    """A button pressed at rest is stuck (or a citizen is pressing right now)."""
    return {f"button_{name}": _check(False, "tertekan saat uji / pressed during the test")
            if b.is_pressed else _check(True) for name, b in hw.buttons.items()}


def check_outputs(hw: Hardware) -> tuple[dict[str, dict[str, Any]], dict[str, bool]]:
    """Each LED and the buzzer alone: read-back, and current on the load-sense line
    where the board has one. Returns (checks, read-back per output)."""
    devices: dict[str, Any] = {f"led_{k}": v for k, v in hw.leds.items()}
    if hw.buzzer is not None:
        devices["buzzer"] = hw.buzzer
    sense = hw.inputs.get("load_sense")
    was = {name: bool(dev.value) for name, dev in devices.items()}
    checks: dict[str, dict[str, Any]] = {}
    read_back: dict[str, bool] = {}
    for dev in devices.values():
        dev.off()
    idle_current = False
    if sense is not None:
        time.sleep(SENSE_SETTLE_S)
        idle_current = bool(sense.is_active)
        checks["load_sense"] = _check(
            not idle_current, "arus saat semua mati / current with every output off: a shorted "
                              "driver or a stuck sense line" if idle_current else "")
    try:
        for name, dev in devices.items():
            dev.on()
            on_ok = bool(dev.value)
            lit = None
            if sense is not None and not idle_current:
                time.sleep(SENSE_SETTLE_S)
                lit = bool(sense.is_active)
            dev.off()
            read_back[name] = on_ok and not bool(dev.value)
            if not read_back[name]:
                checks[name] = _check(False, "pin tidak mengikuti / pin does not follow")
            elif lit is False:
                checks[name] = _check(False, "tidak menarik arus / draws no current: part or driver dead")
            elif lit is None:
                checks[name] = _check(True, "hanya baca-balik / read-back only: no load sense on this board"
                                      if sense is None else "tidak teruji / not judged: sense line busy")
            else:
                checks[name] = _check(True)
    finally:
        for name, dev in devices.items():
            if was[name]:
                dev.on()
        hw._fault_mode = ""  # the main loop sets the fault LED again (a blink is not restored here)
    return checks, read_back


def check_modem(a: Agent, report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if not a.cfg.modem.url:
        return {"modem": _check(None, "tidak dipasang / no modem fitted")}
    if not a.modem.present:
        return {"modem": _check(False, f"modem tidak jalan / modem not running: {a.modem.fault}")}
    m = report.get("modem") or {}
    if not m.get("responds"):
        return {"modem": _check(False, "; ".join(m.get("errors", []))[:200] or "tidak menjawab / no answer")}
    sig = m.get("signal_dbm")
    return {
        "modem": _check(True, str(m.get("model") or "")),
        "sim": _check(bool(m.get("sim_ready")),
                      "" if m.get("sim_ready") else "SIM tidak siap / SIM not ready"),
        "registration": _check(bool(m.get("registered")),
                               f"{m.get('registration')}" if not m.get("registered") else ""),
        "signal": _check(isinstance(sig, int) and sig >= WEAK_SIGNAL_DBM,
                         f"{sig} dBm" if sig is not None else "tanpa sinyal / no signal"),
    }


def check_audio(a: Agent, report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    record_s = a.cfg.modem.audio_test_s
    if not a.modem.present or record_s <= 0:
        return {}
    audio = a.modem.audio_loop(record_s)
    if not isinstance(audio, dict):
        return {"speaker": _check(False, "modem: uji audio gagal / audio loop failed")}
    report["audio"] = audio
    detail = str(audio.get("detail") or "")
    if audio.get("ok") is None and audio.get("microphone") is None:  # not supported, or a call is on
        return {"speaker": _check(None, detail), "microphone": _check(None, detail)}
    mic, spk = audio.get("microphone"), audio.get("speaker")
    if mic is None and spk is None:  # the modem refused a step
        return {"speaker": _check(False, detail)}
    spk_detail = "" if spk else detail if spk is False else "tidak teruji / not judged: microphone dead"
    return {"microphone": _check(bool(mic), "" if mic else detail), "speaker": _check(spk, spk_detail)}


def check_clock(a: Agent) -> dict[str, Any]:
    now = a.clock.now()
    synced = "tersinkron / synced" if a.clock.synced else "belum tersinkron / not synced yet"
    if now < CLOCK_FLOOR or now.year > 2099:
        return _check(False, f"jam tidak masuk akal / implausible clock {now:%Y-%m-%d %H:%M} ({synced})")
    return _check(True, synced)


def run(a: Agent, trigger: SelfTestTrigger = SelfTestTrigger.COMMAND) -> dict[str, Any]:
    """Run every check; the report is a ``SelfTestReport`` with measurements beside it."""
    report: dict[str, Any] = {}
    checks: dict[str, dict[str, Any]] = {}
    checks.update(check_buttons(a.hw))
    outputs, read_back = check_outputs(a.hw)
    checks.update(outputs)
    report["outputs"] = read_back
    if a.modem.present:
        report["modem"] = a.modem.self_test()
    else:
        report["modem"] = {"present": False, "fault": a.modem.fault}
    checks.update(check_modem(a, report))
    if checks["modem"]["ok"]:  # a silent modem would only add timeouts
        a.health.refresh_modem()
        checks.update(check_audio(a, report))
    writable = a.store.writable()
    checks["storage"] = _check(writable, "" if writable else "tidak bisa menulis / not writable")
    checks["clock"] = check_clock(a)
    failed = [name for name, c in checks.items() if c["ok"] is False]
    report.update(
        ok=not failed, at=a.clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        trigger=trigger.value, checks=checks, failed=failed,
        registration=str(a.health.registration), signal_dbm=a.health.signal,
        storage_writable=writable, storage_free_mb=round(a.store.free_mb(), 1),
        outbox_depth=a.store.outbox_depth())
    return report

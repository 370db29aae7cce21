"""Audio loop test: the modem plays a tone, its microphone records it.

Why: a box whose speaker or microphone is dead still dials out and looks
healthy in every other check; the citizen who presses is then not heard.
SIM800 has both halves in its documented command set (SIM800 Series AT
Command Manual V1.09): ``AT+SIMTONE`` plays a tone on the speaker path and
``AT+CREC`` records the microphone into a WAV file on the module and reads
it back as hex (mode 6). Two recordings: one in silence (the microphone's
noise floor: a dead microphone or a broken lead records digital silence)
and one while the tone plays (a dead speaker or amplifier adds nothing at
the tone's frequency). The level at the tone's frequency is measured with
the Goertzel filter on the host.

Other profiles: SIM7600's ``AT+CREC`` records to a named file and needs the
file-transfer commands to read it back; Quectel's ``AT+QAUDLOOP`` loops the
microphone to the speaker for a listening person but reports nothing. They
report ``supported: false`` (the check is skipped, not failed) until someone
proves a sequence on a real part. The ``AT+CREC`` parameter order and the
``+CREC: <len>,<hex>`` read answer follow the manual's parameter list; check
them on the first real SIM800 box (the simulator answers the same way).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from firmware.modem.errors import ModemError

if TYPE_CHECKING:  # pragma: no cover
    from firmware.modem.driver import Modem

#: driver profiles whose modem can play and record (see the module docstring)
AUDIO_LOOP_PROFILES = frozenset({"sim800"})
RATE = 8000
WAV_HEADER = 44
TONE_HZ = 1000
#: below this the microphone records digital silence: dead capsule, lead or bias
MIC_FLOOR_DBFS = -75.0
#: the tone must stand this far above the silent recording at its frequency
TONE_MARGIN_DB = 20.0
_CHUNK = 800  # bytes per AT+CREC=6 read: 1600 hex digits, under the reader's 2048-byte line limit


def _samples(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 2], "little", signed=True) for i in range(0, len(data) - 1, 2)]


def rms_dbfs(samples: list[int]) -> float:
    if not samples:
        return -120.0
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return max(-120.0, 20 * math.log10(max(rms, 1e-6) / 32768))


def tone_dbfs(samples: list[int], freq: float, rate: int = RATE) -> float:
    """Level at ``freq`` (Goertzel), as the dBFS of a sine with that amplitude."""
    n = len(samples)
    if n == 0:
        return -120.0
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = max(s1 * s1 + s2 * s2 - coeff * s1 * s2, 0.0)
    amplitude = 2 * math.sqrt(power) / n
    return max(-120.0, 20 * math.log10(max(amplitude, 1e-6) / 32768 / math.sqrt(2)))


def _record(m: Modem, rec_id: int, seconds: float, skip_s: float) -> list[int]:
    m.at(f"AT+CREC=1,{rec_id},1,{max(1, math.ceil(seconds))}")
    time.sleep(seconds)  # the modem records in real time; nothing to wait on but the clock
    m.at("AT+CREC=2")
    want = int((seconds - skip_s) * RATE) * 2
    offset = WAV_HEADER + int(skip_s * RATE) * 2
    data = b""
    while len(data) < want:
        resp = m.at(f"AT+CREC=6,{rec_id},{min(_CHUNK, want - len(data))},{offset + len(data)}",
                    expect="+CREC:")
        got = resp.first("+CREC:") or ""
        hexdata = got.rsplit(",", 1)[-1].strip().strip('"')
        chunk = bytes.fromhex(hexdata) if hexdata else b""
        if not chunk:
            break
        data += chunk
    return _samples(data)


def audio_loop(m: Modem, *, record_s: float = 1.0, freq: int = TONE_HZ) -> dict[str, Any]:
    """``{supported, ok, speaker, microphone, floor_dbfs, tone_dbfs, ...}``;
    ``ok`` is None when the profile cannot run it. Never raises."""
    out: dict[str, Any] = {"supported": m.profile in AUDIO_LOOP_PROFILES, "ok": None,
                           "speaker": None, "microphone": None}
    if not out["supported"]:
        out["detail"] = f"profil {m.profile} tanpa uji audio / no audio loop on this modem"
        return out
    skip = min(0.2, record_s / 3)
    try:
        quiet = _record(m, 1, record_s, skip)
        m.at(f"AT+SIMTONE=1,{freq},200,0,{int((record_s + 1.0) * 1000)}")
        try:
            loud = _record(m, 2, record_s, skip)
        finally:
            m.at("AT+SIMTONE=0")
    except (ModemError, ValueError) as exc:
        out.update(ok=False, detail=f"modem: {exc}"[:200])
        return out
    floor = rms_dbfs(quiet)
    base, level = tone_dbfs(quiet, freq), tone_dbfs(loud, freq)
    out.update(floor_dbfs=round(floor, 1), tone_dbfs=round(level, 1), tone_quiet_dbfs=round(base, 1),
               samples=len(loud))
    out["microphone"] = floor > MIC_FLOOR_DBFS and len(quiet) > 0
    # with a dead microphone the speaker cannot be judged: only the microphone is named
    out["speaker"] = (level - base >= TONE_MARGIN_DB) if out["microphone"] else None
    out["ok"] = bool(out["microphone"] and out["speaker"])
    if not out["microphone"]:
        out["detail"] = f"mikrofon senyap / microphone silent ({floor:.0f} dBFS)"
    elif not out["speaker"]:
        out["detail"] = f"nada tak terdengar / tone not heard ({level:.0f} dBFS at {freq} Hz)"
    return out

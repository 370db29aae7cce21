"""The simulated modem's audio path: tone generator and recorder (SIM800 only).

Why: the box's self-test plays a tone through its speaker and records it
with its microphone through the modem, so a dead speaker or microphone is
found before a citizen needs them. SIM800 documents both halves
(SIM800 Series AT Command Manual V1.09): ``AT+SIMTONE=<mode>,<freq>,
<periodOn>,<periodOff>[,<duration ms>]`` (ends with the URC ``+SIMTONE: 0``)
and ``AT+CREC`` (mode 1 start recording ``<id>,<form>[,<time s>]``, 2 stop,
6 read ``<id>,<len>,<offset>`` as hex). Other profiles answer ``ERROR``, as
their real parts do for these SIM800 commands.

The "room" is modelled, not the acoustics: with a working microphone the
recording carries a noise floor (about -55 dBFS); a tone that is playing
through a working speaker adds a sine at its frequency (about -14 dBFS); a
dead microphone records near-digital silence. ``speaker_ok`` / ``mic_ok`` on
the simulator (control lines ``speaker dead|ok``, ``mic dead|ok``) break them.
"""

from __future__ import annotations

import io
import math
import time
import wave
from typing import TYPE_CHECKING

from firmware.modem.parser import split_fields

if TYPE_CHECKING:
    from firmware.sim.simulator import ModemSimulator

RATE = 8000
#: the recording this simulator keeps per id (seconds), enough for a self-test
MAX_RECORD_S = 5
READ_MAX = 32 * 1024  # the manual's limit for one AT+CREC=6 read


def _ints(args: str) -> list[int] | None:
    """The integer parameters of a set command; None when one is not an integer."""
    try:
        got = [int(f.strip('"')) for f in split_fields(args)]
    except ValueError:
        return None
    return got or None


class AudioSide:
    """Mixed into the AT interpreter; state lives on the simulator."""

    sim: ModemSimulator

    def c_SIMTONE(self, kind: str, args: str) -> None:
        sim = self.sim
        f = _ints(args) if kind == "set" else None
        if f is None:
            return sim.error(3, "operation not allowed")
        if f[0] == 0:
            sim.tone = None
            return sim.reply([], "OK")
        if len(f) < 4:
            return sim.error(3, "operation not allowed")
        mode, freq, duration_ms = f[0], f[1], (f[4] if len(f) > 4 else 10_000)
        if mode != 1 or not 20 <= freq <= 20000 or not 10 <= duration_ms <= 500_000:
            return sim.error(3, "operation not allowed")
        until = time.monotonic() + duration_ms / 1000
        sim.tone = (freq, until)
        sim.reply([], "OK")
        sim._sched.later(duration_ms / 1000, lambda: self._tone_done(until))

    def _tone_done(self, until: float) -> None:
        sim = self.sim
        with sim._lock:
            if sim.tone is not None and sim.tone[1] == until:
                sim.tone = None
                sim.urc("+SIMTONE: 0")

    def c_CREC(self, kind: str, args: str) -> None:
        sim = self.sim
        f = _ints(args) if kind == "set" else None
        if f is None:
            return sim.error(3, "operation not allowed")
        mode = f[0]
        if mode == 1:  # start: id, form (1 = WAV), time limit (s)
            if len(f) < 3 or not 1 <= f[1] <= 10 or f[2] != 1:
                return sim.error(3, "operation not allowed")
            sim.recordings[f[1]] = {"started": time.monotonic(), "stopped": None,
                                    "limit": min(f[3] if len(f) > 3 and f[3] else MAX_RECORD_S,
                                                 MAX_RECORD_S),
                                    "tone": sim.tone, "speaker_ok": sim.speaker_ok, "mic_ok": sim.mic_ok}
            return sim.reply([], "OK")
        if mode == 2:  # stop every recording in progress
            for rec in sim.recordings.values():
                if rec["stopped"] is None:
                    rec["stopped"] = time.monotonic()
            return sim.reply([], "OK")
        if mode == 6:  # read: id, len, offset -> +CREC: <len>,<hex>
            if len(f) < 4 or f[1] not in sim.recordings or not 0 < f[2] <= READ_MAX or f[3] < 0:
                return sim.error(3, "operation not allowed")
            data = self._wav(sim.recordings[f[1]])[f[3]: f[3] + f[2]]
            return sim.reply([f"+CREC: {len(data)},{data.hex().upper()}"], "OK")
        return sim.error(3, "operation not allowed")

    def _wav(self, rec: dict) -> bytes:
        """The recording as a WAV file (8 kHz, 16-bit mono)."""
        end = rec["stopped"] if rec["stopped"] is not None else time.monotonic()
        seconds = max(0.0, min(end - rec["started"], rec["limit"]))
        n = int(seconds * RATE)
        rng = self.sim._rng
        noise = 60.0 if rec["mic_ok"] else 1.0
        tone = rec["tone"]
        audible = tone is not None and rec["speaker_ok"] and rec["mic_ok"]
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            frames = bytearray()
            for i in range(n):
                v = rng.gauss(0.0, noise)
                if audible and tone is not None:
                    v += 6000.0 * math.sin(2 * math.pi * tone[0] * i / RATE)
                frames += int(max(-32768, min(32767, v))).to_bytes(2, "little", signed=True)
            w.writeframes(bytes(frames))
        return buf.getvalue()

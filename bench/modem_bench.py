"""GSM modem driver benchmarks over a pty to the simulator. Prints numbers; asserts nothing.

    .venv/bin/python bench/modem_bench.py [--rounds 200]

* PDU decode: ``firmware.modem.pdu.decode`` per received PDU (GSM 7-bit part
  with a header and extension characters, UCS2, 8-bit).
* CLCC poll: one ``AT+CLCC`` round trip while a call is up, and what share
  of the modem link it costs at the default 2 s interval.
* Silent phone: remote hang-up -> ``CallEnded`` on a profile that reports no
  call end (only polling finds it), at two poll intervals.
* Long SMS: delivered -> joined ``SmsReceived`` (one PDU-mode read per part).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from firmware.modem import Modem, pdu  # noqa: E402
from firmware.modem.events import CallActive, CallEnded, Ringing, SmsReceived  # noqa: E402
from firmware.sim import ModemSimulator, deliver  # noqa: E402

FAST = {"ring_interval": 0.2, "boot_delay": 0.05, "alert_delay": 0.02}
WHEN = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def wait(m: Modem, kind: type, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = m.events.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(ev, kind):
            return ev
    raise TimeoutError(kind.__name__)


def pair(profile: str, **opts) -> tuple[ModemSimulator, Modem]:
    sim = ModemSimulator(profile, **FAST)
    sim.start_pty()
    m = Modem(sim.url, profile=sim.profile.driver, watchdog_interval=60.0, **opts)
    m.start()
    time.sleep(0.3)  # let the start-up sweep finish
    return sim, m


def bench_decode(rounds: int) -> None:
    gsm = deliver.split("Harga [promo] 5€ " * 20, "gsm7")
    samples = {
        "gsm7 part, UDH + escapes": deliver.deliver_tpdu("+628123", gsm[0], "gsm7", WHEN, (1, 3, 1)),
        "ucs2, 66 units": deliver.deliver_tpdu(
            "+628123", deliver.split("Kebakaran “blok C” 🚒 " * 3, "ucs2")[0], "ucs2", WHEN),
        "8-bit, 12 octets": deliver.deliver_tpdu("TELKOMSEL", b"Hello world!", "8bit", WHEN),
    }
    for name, tpdu in samples.items():
        hexdata = deliver.with_smsc(tpdu)
        n = rounds * 20
        t0 = time.perf_counter()
        for _ in range(n):
            pdu.decode(hexdata)
        print(f"pdu.decode {name}: {(time.perf_counter() - t0) / n * 1e6:.1f} µs per PDU")


def bench_clcc(rounds: int) -> None:
    sim, m = pair("sim800", clcc_poll=0)
    try:
        sim.incoming_call("+628123")
        wait(m, Ringing)
        m.answer()
        wait(m, CallActive)
        rtts = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            m._callwatch.poll()
            rtts.append(time.perf_counter() - t0)
        p50 = statistics.median(rtts)
        p95 = sorted(rtts)[int(len(rtts) * 0.95)]
        print(f"AT+CLCC poll round trip (pty): p50 {p50 * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms; "
              f"at the 2 s default interval the link is busy {p50 / 2.0 * 100:.3f} % of the call")
    finally:
        m.close()
        sim.stop()


def bench_silent_phone(rounds: int) -> None:
    for interval in (0.5, 2.0):
        sim, m = pair("phone", clcc_poll=interval)
        lat = []
        try:
            for _ in range(max(3, rounds // 40)):
                sim.incoming_call("+628123")
                wait(m, Ringing)
                m.answer()
                wait(m, CallActive)
                time.sleep(interval * 0.37)  # hang up at an arbitrary point of the poll cycle
                t0 = time.perf_counter()
                sim.remote_hangup()
                wait(m, CallEnded, timeout=interval + 10)
                lat.append(time.perf_counter() - t0)
        finally:
            m.close()
            sim.stop()
        print(f"silent phone, poll {interval} s: hang-up -> CallEnded p50 {statistics.median(lat):.2f} s, "
              f"max {max(lat):.2f} s over {len(lat)} calls")


def bench_sms(rounds: int) -> None:
    sim, m = pair("sim800")
    lat = []
    try:
        text = "Laporan [RT 05] banjir 250€. " * 15
        for _ in range(max(3, rounds // 20)):
            t0 = time.perf_counter()
            sim.receive_sms("+628123", text)
            ev = wait(m, SmsReceived)
            assert ev.text == text
            lat.append(time.perf_counter() - t0)
        print(f"{ev.parts}-part GSM 7-bit SMS, stored -> SmsReceived (PDU-mode reads): "
              f"p50 {statistics.median(lat) * 1e3:.1f} ms over {len(lat)}")
    finally:
        m.close()
        sim.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    a = ap.parse_args()
    bench_decode(a.rounds)
    bench_clcc(a.rounds)
    bench_sms(a.rounds)
    bench_silent_phone(a.rounds)


if __name__ == "__main__":
    main()

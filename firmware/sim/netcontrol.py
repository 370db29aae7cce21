"""Control language of ``siaga sim network`` (one line in, one line out).

Separate agent and gateway processes join the network by opening the
``socket://`` URL of a modem the network serves (``modem <number>``), so
every simulator lives in the network's process and the cross-modem steps
need no second protocol. Answers start ``ok`` or ``error``.
"""

from __future__ import annotations

import json
import threading

from firmware.sim.control import run_command
from firmware.sim.network import GsmNetwork, normalise
from firmware.sim.simulator import ModemSimulator, SimulatorError

HELP = (
    "modem <number> [profile] -> ok socket://... | phone <number> | sms <from> <to> <text> | "
    "call <from> <to> | coverage <number> on|off | delay <s> | loss <0..1> | inbox <number> | "
    "at <number> <modem control line> | state | help"
)


class NetworkHost:
    """A network plus the modems it serves over TCP (one per number)."""

    def __init__(self, network: GsmNetwork | None = None, *, ring_interval: float = 3.0) -> None:
        self.network = network or GsmNetwork()
        self.ring_interval = ring_interval
        self.sims: dict[str, ModemSimulator] = {}
        self._lock = threading.Lock()

    def modem(self, number: str, profile: str = "sim800") -> str:
        n = normalise(number)
        with self._lock:
            if n not in self.sims:
                sim = ModemSimulator(profile, ring_interval=self.ring_interval)
                sim.start_tcp()
                self.network.attach(n, sim)
                self.sims[n] = sim
            return self.sims[n].url

    def close(self) -> None:
        for sim in self.sims.values():
            sim.stop()
        self.network.close()

    def run(self, line: str) -> str:
        """Execute one control line; never raises."""
        parts = line.strip().split(maxsplit=3)
        if not parts:
            return "ok"
        cmd, args = parts[0].lower(), parts[1:]
        net = self.network
        try:
            if cmd == "modem":
                return "ok " + self.modem(args[0], args[1] if len(args) > 1 else "sim800")
            if cmd == "phone":
                net.phone(args[0])
            elif cmd == "sms":
                if len(args) < 3:
                    return "error: sms <from> <to> <text>"
                net.phone(args[0]).send(args[1], args[2])
            elif cmd == "call":
                net.phone(args[0]).call(args[1])
            elif cmd == "coverage":
                net.set_coverage(args[0], args[1].lower() != "off")
            elif cmd == "delay":
                net.sms_delay_s = float(args[0])
            elif cmd == "loss":
                net.loss = min(1.0, max(0.0, float(args[0])))
            elif cmd == "inbox":
                return "ok " + json.dumps(net.phone(args[0]).inbox)
            elif cmd == "at":
                sim = self.sims.get(normalise(args[0]))
                if sim is None:
                    return f"error: no modem {args[0]}"
                return run_command(sim, " ".join(args[1:]))
            elif cmd == "state":
                with net.lock:
                    return "ok " + json.dumps({
                        "modems": {n: s.url for n, s in self.sims.items()},
                        "phones": sorted(net.phones), "coverage": net.coverage,
                        "sms": len(net.log), "sms_delay_s": net.sms_delay_s, "loss": net.loss})
            elif cmd == "help":
                return "ok " + HELP
            else:
                return f"error: perintah tidak dikenal / unknown command {cmd!r}; {HELP}"
        except (SimulatorError, ValueError, IndexError) as exc:
            return f"error: {exc}"
        return "ok"

"""A simulated GSM modem (SIM800 / SIM7600 profiles) for tests and the demo.

It speaks AT over a pseudo-terminal or a TCP socket, so the real driver runs
unchanged against it through pyserial. See ``docs/modem.md``.
"""

from firmware.sim.simulator import ModemSimulator, SimulatorError

__all__ = ["ModemSimulator", "SimulatorError"]

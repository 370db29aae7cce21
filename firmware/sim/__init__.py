"""A simulated GSM modem (SIM800 / SIM7600 profiles) for tests and the demo.

It speaks AT over a pseudo-terminal or a TCP socket, so the real driver runs
unchanged against it through pyserial. See ``docs/modem.md``.

The simulator is loaded on first use of ``firmware.sim.ModemSimulator``, not
with the package: the agent under mock pins imports only ``firmware.sim.board``
(the sense-line model), and the whole simulator (~1.2 MB) in the idle agent
would be memory a real box never has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware.sim.simulator import ModemSimulator, SimulatorError

__all__ = ["ModemSimulator", "SimulatorError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from firmware.sim import simulator

        return getattr(simulator, name)
    raise AttributeError(f"module 'firmware.sim' has no attribute {name!r}")

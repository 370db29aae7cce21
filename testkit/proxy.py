"""The cuttable TCP proxy lives in ``firmware/sim/ipcut.py`` (the demo's
control page cuts units' IP links with it); tests and benches import it here."""

from firmware.sim.ipcut import CuttableProxy

__all__ = ["CuttableProxy"]

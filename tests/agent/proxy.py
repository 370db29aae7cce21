"""The cuttable TCP proxy moved to ``firmware/sim/ipcut.py`` (the demo uses it too)."""

from firmware.sim.ipcut import CuttableProxy

__all__ = ["CuttableProxy"]

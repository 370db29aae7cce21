"""The suite's private Mosquitto: the same runner `siaga demo` uses.

The suite starts its own broker (never the machine's) on a free loopback
port, can stop, restart and reload it mid-test, and removes it afterwards.
"""

from __future__ import annotations

from central.broker.process import MosquittoProcess, find_mosquitto, free_port

Broker = MosquittoProcess

__all__ = ["Broker", "find_mosquitto", "free_port"]

"""Moved to ``testkit.agent`` (shared with ``bench/``); kept so older imports work."""

from testkit.agent import *  # noqa: F403

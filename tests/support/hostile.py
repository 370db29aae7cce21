"""Moved to ``testkit.hostile`` (shared with ``bench/``); kept so older imports work."""

from testkit.hostile import *  # noqa: F403

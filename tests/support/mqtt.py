"""Moved to ``testkit.mqtt`` (shared with ``bench/``); kept so older imports work."""

from testkit.mqtt import *  # noqa: F403

"""Moved to ``testkit.mqtt`` (shared with ``bench/``); kept so the tests' imports stay as they were."""

from testkit.mqtt import *  # noqa: F403

"""Moved to ``testkit.agent`` (shared with ``bench/``); kept so the tests' imports stay as they were."""

from testkit.agent import *  # noqa: F403

"""Moved to ``testkit.hostile`` (shared with ``bench/``); kept so the tests' imports stay as they were."""

from testkit.hostile import *  # noqa: F403

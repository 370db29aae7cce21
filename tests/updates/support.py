"""Moved to ``testkit.updates`` (shared with ``bench/``); kept so the tests' imports stay as they were."""

from testkit.updates import *  # noqa: F403

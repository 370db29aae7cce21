"""Moved to ``testkit.proxy`` (shared with ``bench/``); kept so the tests' imports stay as they were."""

from testkit.proxy import *  # noqa: F403

"""Moved to ``testkit.postgres`` (shared with ``bench/``); kept so the tests' imports stay as they were."""

from testkit.postgres import *  # noqa: F403

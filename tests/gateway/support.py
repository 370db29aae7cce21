"""Moved to ``testkit.gateway`` (shared with ``bench/``); kept so the tests' imports stay as they were."""

from testkit.gateway import *  # noqa: F403

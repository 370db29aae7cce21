"""Moved to ``testkit.updates`` (shared with ``bench/``); kept so older imports work."""

from testkit.updates import *  # noqa: F403

"""Moved to ``testkit.proxy`` (shared with ``bench/``); kept so older imports work."""

from testkit.proxy import *  # noqa: F403

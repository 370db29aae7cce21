"""Moved to ``testkit.gateway`` (shared with ``bench/``); kept so older imports work."""

from testkit.gateway import *  # noqa: F403

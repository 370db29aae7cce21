"""Moved to ``testkit.postgres`` (shared with ``bench/``); kept so older imports work."""

from testkit.postgres import *  # noqa: F403

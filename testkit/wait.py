"""One way to wait for something in a test or a benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.01, what: str = "") -> Any:
    """Poll until ``pred()`` is truthy and return its value; TimeoutError after
    ``timeout`` seconds. Generous timeouts for a loaded machine, never a timing
    assertion: a test waits for an event, it does not measure it."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what or pred}")
        time.sleep(interval)


def until(pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.01) -> bool:
    """``wait_for`` as a boolean, for ``assert until(...)`` and ``if until(...)``."""
    try:
        wait_for(pred, timeout, interval)
    except TimeoutError:
        return False
    return True

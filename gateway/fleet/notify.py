"""Escalation channels for fault and recovery notices.

A notifier is any callable object with ``send(notice)``; it raises on
failure and the health watch retries on its next tick, so a notice is sent
once per episode edge (open, close) and is not lost to a webhook outage.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Protocol

from gateway.fleet.settings import NotifierSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notice:
    device: str
    fault: str
    kind: str  # "fault" | "recovered" | "event"
    detail: str
    at: str
    episode: int | None = None

    def text(self) -> str:
        word = {"fault": "GANGGUAN / FAULT", "recovered": "PULIH / RECOVERED"}.get(self.kind, "INFO")
        return f"[Siaga 112] {word}: {self.device} {self.fault} {self.detail}".strip()


class Notifier(Protocol):
    def send(self, notice: Notice) -> None: ...


class LogNotifier:
    """Writes each notice as one WARNING log line (journald picks it up)."""

    def send(self, notice: Notice) -> None:
        log.warning("%s (at %s)", notice.text(), notice.at)


class WebhookNotifier:
    """POSTs each notice as JSON; a non-2xx answer is a failure (retried)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def send(self, notice: Notice) -> None:
        import httpx

        r = httpx.post(self.url, json=asdict(notice) | {"text": notice.text()}, timeout=self.timeout_s)
        r.raise_for_status()


class MemoryNotifier:
    """Keeps notices in a list (for the API's preview and for tests)."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> None:
        self.sent.append(notice)


def make_notifier(settings: NotifierSettings) -> Notifier:
    if settings.kind == "webhook":
        if not settings.url:
            raise ValueError("notifier.url: required when notifier.kind is webhook")
        return WebhookNotifier(settings.url, settings.timeout_s)
    return LogNotifier()

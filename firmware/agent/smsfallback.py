"""SMS fallback: an urgent incident the gateway has not acknowledged, while
the broker link is down, goes to the centre's modem as one signed SMS.

Why beside the outbox and not instead of it: the SMS carries only ids,
category and time (``protocol.smsfallback``); the MQTT outbox keeps the full
incident and still delivers it when IP returns, and the gateway merges the
two into one case. One SMS per incident, ever: the mark is committed
(``synchronous=FULL``) before the modem is asked, and taken back only when
the modem said the send failed, so a retry is a later tick, not a flood.
The send runs on a short thread (``AT+CMGS`` can take many seconds on a real
network) and reports back through the agent's queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from firmware.agent.events import SmsResult
from protocol.categories import CATALOGUE, Category
from protocol.codec import decode
from protocol.reports import Incident

if TYPE_CHECKING:
    from firmware.agent.config import SmsFallbackSettings
    from firmware.agent.events import AgentEvent
    from firmware.agent.modem import ModemPort
    from firmware.agent.store import Store

log = logging.getLogger("firmware.agent.sms")

CHECK_EVERY_S = 1.0


class SmsFallback:
    """Gets what it uses (the store, the modem, whether the link is up, the
    event log and the loop's queue), not the whole agent."""

    def __init__(self, cfg: SmsFallbackSettings, *, store: Store, modem: ModemPort,
                 link_up: Callable[[], bool], event: Callable[..., None],
                 enqueue: Callable[[AgentEvent], None]) -> None:
        self.cfg = cfg
        self.store = store
        self.modem = modem
        self.link_up = link_up
        self.event = event
        self.enqueue = enqueue
        self.key = self.cfg.key()
        self.categories = [c.value for c in Category
                           if CATALOGUE[c].routed and int(CATALOGUE[c].priority) <= self.cfg.max_priority]
        self.sending: set[str] = set()
        self.retry_at: dict[str, float] = {}  # id -> monotonic time of the next try after a failure
        self.sent = 0
        self.failed = 0
        self._next_check = 0.0
        if self.cfg.numbers and self.key is None:
            log.error("Kunci SMS tidak terbaca / SMS key unreadable (%s): no SMS fallback", self.cfg.key_file)

    @property
    def enabled(self) -> bool:
        return bool(self.cfg.numbers) and self.key is not None

    def tick(self, now: float) -> None:
        if not self.enabled or self.link_up() or now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY_S
        if not self.modem.present:
            return
        due = self.store.sms_due(time.time() - self.cfg.after_s, self.categories)
        for msg_id, payload in due:
            if msg_id in self.sending or self.retry_at.get(msg_id, 0.0) > now:
                continue
            from protocol import smsfallback as wire  # the SMS codec: only once an SMS is due

            inc = decode(Incident, payload.encode())
            text = wire.encode(wire.FallbackSms(inc.device, inc.id, inc.seq, inc.category,
                                                inc.clock_synced), self.key or b"")
            self.store.mark_sms_sent(msg_id)
            self.sending.add(msg_id)
            threading.Thread(target=self._send, args=(msg_id, text), name="sms-fallback",
                             daemon=True).start()

    def _send(self, msg_id: str, text: str) -> None:
        ok_any, errors = False, []
        for number in self.cfg.numbers:
            ok, detail = self.modem.send_sms(number, text)
            ok_any = ok_any or ok
            if not ok:
                errors.append(f"{number}: {detail}")
        self.enqueue(SmsResult(msg_id, ok_any, "; ".join(errors), len(text)))

    def on_result(self, msg_id: str, ok: bool, detail: str, size: int) -> None:
        self.sending.discard(msg_id)
        if ok:
            self.sent += 1
            log.warning("Insiden %s dikirim lewat SMS / incident sent by SMS (%d chars)", msg_id, size)
            self.event("sms_fallback", {"id": msg_id, "chars": size, "errors": detail or None})
            return
        self.failed += 1
        self.store.clear_sms_mark(msg_id)
        self.retry_at[msg_id] = time.monotonic() + max(self.cfg.after_s, 5.0)
        log.warning("SMS gagal / SMS fallback failed for %s: %s", msg_id, detail)
        self.event("sms_fallback_failed", {"id": msg_id, "error": detail}, level="WARNING")

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed}

"""The outbox worker: deliver pending rows, retry with backoff, dead-letter.

Rows are claimed with a lease in a short transaction, sent with no
transaction open (an OPD's slow server must not hold the database), and the
attempt is recorded in a second short transaction. Several gateway
instances can run this loop on one database: the lease keeps a row with one
of them; a crashed instance's lease simply runs out.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, text, update

from gateway.clock import utcnow
from gateway.config.models import DispatchSettings, SiteConfig, WebhookChannel
from gateway.dispatch import signing
from gateway.metrics import Metrics
from gateway.store.db import Database
from gateway.store.models import DeliveryAttempt, Outbox

log = logging.getLogger("gateway.dispatch")

#: publish(topic, payload, timeout) -> None, raising on failure
MqttPublish = Callable[[str, bytes, float], None]


@dataclass
class Outcome:
    ok: bool
    http_status: int | None = None
    error: str | None = None


def _bookkeeping(s: Any) -> None:
    """On PostgreSQL the dispatcher's transactions (leases, attempt records)
    commit without waiting for their WAL flush (``synchronous_commit`` off for
    them alone): the intake's commits, whose Acks promise durability, no
    longer queue behind the dispatcher's flushes. A crash may lose the last
    fraction of a second of them, whole transactions only: a lost lease means
    nothing (its sender died with it), a lost record means the delivery is
    sent again after its lease, with the same ``webhook-id``, as after any
    crash between a POST and its record (OPDs drop repeats; docs/opd-integration.md).
    A case, its assignments and its outbox rows are written by the intake
    and the cases service, always synchronously."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL synchronous_commit TO OFF"))


def backoff_s(settings: DispatchSettings, attempts: int) -> float:
    """Delay before attempt ``attempts + 1``: doubling, capped."""
    return min(settings.backoff_max_s, settings.backoff_initial_s * 2 ** max(0, attempts - 1))


class Dispatcher:
    def __init__(self, db: Database, cfg: SiteConfig, metrics: Metrics, *, instance: str,
                 mqtt_publish: MqttPublish | None = None) -> None:
        self.db = db
        self.cfg = cfg
        self.settings = cfg.gateway.dispatch
        self.metrics = metrics
        self.instance = instance
        self.mqtt_publish = mqtt_publish
        #: send(number, text), raising on failure: the centre's modem (gateway.sms.service)
        self.sms_send: Callable[[str, str], None] | None = None
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.workers = 8
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dispatch")
        self._done: queue.SimpleQueue[tuple[str, Outcome, float]] = queue.SimpleQueue()
        self._inflight = 0
        self._http = httpx.Client(follow_redirects=False)
        timeouts = [o.channels.webhook.timeout_s for o in cfg.opds if o.channels.webhook]
        timeouts += [lv.webhook.timeout_s for o in cfg.opds for lv in o.escalation if lv.webhook]
        if cfg.escalation.webhook:
            timeouts.append(cfg.escalation.webhook.timeout_s)
        self.lease_s = max([self.settings.lease_s, *(2 * t + 5 for t in timeouts)])

    # -- running -----------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming, let in-flight deliveries finish, record them (so a
        restart does not send them again), then close."""
        self._stop.set()
        self.wake.set()
        if self._thread:
            self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        leftovers = []
        while True:
            try:
                leftovers.append(self._done.get_nowait())
            except queue.Empty:
                break
        if leftovers:
            try:
                self.record_many(leftovers)
            except Exception:
                log.exception("could not record %d final deliveries", len(leftovers))
        self._http.close()

    def _run(self) -> None:
        """Keep up to ``workers`` deliveries in flight; record finished ones
        in batches. A slow or hanging OPD only holds its own deliveries (up
        to its timeout), never the other OPDs' (no waiting for a whole batch)."""
        while not self._stop.is_set():
            try:
                busy = self._step()
            except Exception:
                log.exception("dispatch loop error; retrying")
                busy = False
            if not busy:
                self.wake.wait(self.settings.poll_s)
                self.wake.clear()

    def _step(self) -> bool:
        """Record what finished and claim what is due in one transaction:
        one commit (one fsync, one turn of SQLite's write lock the intake
        may be waiting for) instead of two. Should it fail, the results go
        back to be recorded next time (their rows are still leased to us)."""
        results = []
        while True:
            try:
                results.append(self._done.get_nowait())
            except queue.Empty:
                break
        free = self.workers - (self._inflight - len(results))
        try:
            with self.db.session() as s:
                _bookkeeping(s)
                if results:
                    self._record_in(s, results)
                rows = self._claim_in(s, free) if free > 0 else []
        except BaseException:
            for r in results:
                self._done.put(r)
            raise
        self._inflight -= len(results)
        for row in rows:
            self._inflight += 1
            self._pool.submit(self._deliver_async, row)
        return bool(results or rows)

    def _deliver_async(self, row: Outbox) -> None:
        self._done.put(self._deliver(row))
        self.wake.set()

    def claim(self, limit: int = 64) -> list[Outbox]:
        """Lease up to ``limit`` due rows to this instance (one UPDATE; on
        PostgreSQL a locking SELECT first). The lease outlasts the longest
        webhook timeout, so no row is sent twice; rows another instance is
        claiming at this moment are skipped, not waited for."""
        with self.db.session() as s:
            _bookkeeping(s)
            return self._claim_in(s, limit)

    def _claim_in(self, s: Any, limit: int) -> list[Outbox]:
        now = utcnow()
        until = now + timedelta(seconds=self.lease_s)
        free = or_(Outbox.lease_until.is_(None), Outbox.lease_until < now)
        due = (select(Outbox.id).where(Outbox.status == "pending", Outbox.next_attempt_at <= now, free)
               .order_by(Outbox.next_attempt_at).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            # lock the due rows first, skipping those another instance's claim
            # holds: waiting for it could deadlock (two claims locking rows in
            # different orders), which shows only after deadlock_timeout (1 s)
            # with every due webhook waiting. A separate statement: as a
            # subquery of the UPDATE, PostgreSQL may run it again per row, each
            # run skipping what the runs before locked: a claim of 2 took 5.
            ids = list(s.scalars(due.with_for_update(skip_locked=True)))
            if not ids:
                return []
            which = Outbox.id.in_(ids)
        else:  # SQLite: one writer at a time, so this claim is alone
            which = Outbox.id.in_(due.scalar_subquery())
        # the leased rows come back from the UPDATE itself (a second SELECT by
        # lease owner and time read the whole outbox: no index holds them)
        rows = s.scalars(update(Outbox).where(which, Outbox.status == "pending", free)
                         .values(lease_owner=self.instance, lease_until=until).returning(Outbox),
                         execution_options={"synchronize_session": False})
        return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))

    def run_once(self) -> int:
        """Deliver every due row once, synchronously (tools and tests; the
        running loop is :meth:`_step`); returns how many were attempted."""
        rows = self.claim()
        if not rows:
            return 0
        results = list(self._pool.map(self._deliver, rows))
        self.record_many(results)
        return len(rows)

    def _deliver(self, row: Outbox) -> tuple[str, Outcome, float]:
        t0 = time.perf_counter()
        try:
            outcome = self.send(row)
        except Exception as exc:  # a bug in a channel must not kill the loop
            log.exception("delivery %s crashed", row.id)
            outcome = Outcome(False, error=f"internal: {type(exc).__name__}")
        return row.id, outcome, (time.perf_counter() - t0) * 1000

    def send(self, row: Outbox) -> Outcome:
        body = row.payload.encode()
        if row.channel == "webhook":
            hook = self._webhook_for(row)
            if hook is None:
                return Outcome(False, error="no webhook configured for target")
            return self._post(hook, body, row)
        if row.channel == "mqtt":
            if self.mqtt_publish is None:
                return Outcome(False, error="MQTT not connected in this process")
            from protocol.topics import opd_dispatch_topic

            topic = opd_dispatch_topic(row.target.partition("#")[0])
            if row.kind == "escalation":  # a ladder level: siaga/v1/opd/{opd}/escalation
                topic = topic.rsplit("/", 1)[0] + "/escalation"
            try:
                self.mqtt_publish(topic, body, 10.0)
            except Exception as exc:
                return Outcome(False, error=f"mqtt: {exc}"[:500])
            return Outcome(True)
        if row.channel.startswith("sms:"):
            return self._sms(row)
        return Outcome(False, error=f"unknown channel {row.channel!r}")

    def _sms(self, row: Outbox) -> Outcome:
        from gateway.sms.opd import dispatch_text, number_for

        number = number_for(self.cfg, row.target, row.channel)
        if number is None or self.sms_send is None:
            return Outcome(False, error="no SMS number or no centre modem in this process")
        try:
            self.sms_send(number, dispatch_text(row.payload, row.incident_pk or 0))
        except Exception as exc:  # the modem's errors: retried like a failed webhook
            return Outcome(False, error=f"sms: {exc}"[:500])
        return Outcome(True)

    def _webhook_for(self, row: Outbox) -> WebhookChannel | None:
        if row.kind == "escalation":
            if row.target == "escalation":
                return self.cfg.escalation.webhook
            from gateway.escalation import level_of

            lv = level_of(self.cfg, row.target)
            return lv.webhook if lv else None
        opd = self.cfg.opd(row.target)
        return opd.channels.webhook if opd else None

    def _post(self, hook: WebhookChannel, body: bytes, row: Outbox) -> Outcome:
        hdrs = signing.webhook_headers(hook.secret.resolve(), row.id, body)
        ctype = "application/cap+xml" if body.startswith(b"<") else "application/json"
        hdrs |= {"Content-Type": ctype, "X-Siaga-Event": row.kind, "User-Agent": "siaga-gateway/1"}
        try:
            r = self._http.post(hook.url, content=body, headers=hdrs, timeout=hook.timeout_s)
        except httpx.HTTPError as exc:
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= r.status_code < 300:
            return Outcome(True, http_status=r.status_code)
        return Outcome(False, http_status=r.status_code, error=f"HTTP {r.status_code}")

    def _dead_letter_notice(self, s: Any, row: Outbox, now: datetime) -> None:
        """A dispatch that gave up shows in the case's timeline and, when an
        escalation webhook exists, goes there: someone must phone the OPD."""
        from gateway.lifecycle import audit
        from gateway.store.models import Incident
        from protocol.ids import new_id

        inc = s.get(Incident, row.incident_pk)
        if inc is None:
            return
        audit(s, inc, to=inc.status, from_status=inc.status, event="dead_letter", actor="system",
              via="dispatch", opd=row.target,
              note=f"{row.channel} delivery {row.id} gave up after {row.attempts} attempts: "
                   f"{row.last_error}"[:2000])
        if self.cfg.escalation.webhook is not None:
            s.add(Outbox(id=new_id(), incident_pk=inc.pk, kind="escalation", channel="webhook",
                         target="escalation", status="pending", attempts=0, next_attempt_at=now,
                         created_at=now, payload=json.dumps({
                             "v": 1, "type": "escalation", "kind": "dead_letter", "case": inc.case_no,
                             "incident_id": inc.id, "opd": row.target, "channel": row.channel,
                             "error": row.last_error,
                             "contacts": [c.model_dump(exclude_none=True)
                                          for c in self.cfg.escalation.contacts]},
                             separators=(",", ":"))))

    def record(self, outbox_id: str, outcome: Outcome, ms: float) -> None:
        self.record_many([(outbox_id, outcome, ms)])

    def record_many(self, results: list[tuple[str, Outcome, float]]) -> None:
        """Record attempts and move rows on, all in one transaction (one fsync)."""
        with self.db.session() as s:
            _bookkeeping(s)
            self._record_in(s, results)

    def _record_in(self, s: Any, results: list[tuple[str, Outcome, float]]) -> None:
        now = utcnow()
        # one SELECT for the batch, not one per row: the loop records after every
        # few POSTs, and per-row round trips capped a burst's dispatch rate
        rows = {r.id: r for r in s.scalars(select(Outbox).where(
            Outbox.id.in_([r[0] for r in results])))}
        for outbox_id, outcome, ms in results:
            row = rows.get(outbox_id)
            if row is None:
                continue
            self._apply(s, row, outcome, ms, now)
        s.flush()  # before a claim in the same transaction reads the rows

    def _apply(self, s, row: Outbox, outcome: Outcome, ms: float, now) -> None:
        s.add(DeliveryAttempt(outbox_id=row.id, at=now, ok=outcome.ok, http_status=outcome.http_status,
                              error=outcome.error, duration_ms=ms, instance=self.instance))
        row.attempts += 1
        row.lease_owner = None
        row.lease_until = None
        self.metrics.deliveries.labels(channel=row.channel, result="ok" if outcome.ok else "error").inc()
        if outcome.ok:
            row.status = "delivered"
            row.delivered_at = now
            row.last_error = None
            return
        row.last_error = outcome.error
        if row.attempts >= self.settings.max_attempts:
            row.status = "dead"
            self.metrics.dead.inc()
            log.error("Pengiriman gagal total / delivery dead-lettered: %s %s to %s after %d "
                      "attempts: %s", row.kind, row.id, row.target, row.attempts, outcome.error)
            if row.kind == "dispatch" and row.incident_pk is not None:
                self._dead_letter_notice(s, row, now)
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_s(self.settings, row.attempts))

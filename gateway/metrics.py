"""Prometheus metrics of one gateway (own registry: tests run several)."""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger("gateway.ingest")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("siaga_gateway_messages_total", "MQTT messages taken in, by kind",
                                ["kind"], registry=r)
        self.rejected = Counter("siaga_gateway_rejected_total", "Messages rejected, by reason",
                                ["reason"], registry=r)
        self.stored = Counter("siaga_gateway_stored_total",
                              "New records stored (or device rows updated), by kind; re-deliveries "
                              "are in siaga_gateway_duplicates_total", ["kind"], registry=r)
        self.duplicates = Counter("siaga_gateway_duplicates_total",
                                  "Re-delivered incidents/calls, by kind (acked again, stored once)",
                                  ["kind"], registry=r)
        self.batch_size = Histogram("siaga_gateway_commit_batch_size", "Messages per group commit",
                                    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), registry=r)
        self.commit_seconds = Histogram(
            "siaga_gateway_commit_seconds",
            "One group commit's transaction, from asking for it to its COMMIT done (the ack waits "
            "for it; on PostgreSQL its writes and COMMIT are one round trip)",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0), registry=r)
        self.ingest_seconds = Histogram(
            "siaga_gateway_ingest_seconds",
            "Where a unit's message spends its time in the gateway, by stage: queued (received "
            "-> taken into a batch), stored (the batch's decode, transaction and COMMIT), acked "
            "(received -> its Ack handed to the MQTT client: the gateway's whole share of the "
            "unit's wait)", ["stage"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
                     1.0, 2.0, 5.0), registry=r)
        self.deliveries = Counter("siaga_gateway_delivery_attempts_total",
                                  "Dispatch delivery attempts", ["channel", "result"], registry=r)
        self.dead_lettered = Counter(
            "siaga_gateway_ingest_dead_letters_total",
            "Messages kept in the ingest's dead-letter table, by reason (poison, internal_error)",
            ["reason"], registry=r)
        self.dead = Counter("siaga_gateway_dead_letters_total", "Deliveries that gave up", registry=r)
        self.escalations = Counter("siaga_gateway_escalations_total", "SLA escalations", ["kind"],
                                   registry=r)
        self.sms = Counter("siaga_gateway_sms_total",
                           "SMS taken in by the centre's modem, by result (accepted, report, merged, "
                           "or the refusal reason: forged, replayed, truncated, ...)", ["result"],
                           registry=r)
        self.bad_periods = Counter("siaga_gateway_bad_report_periods_total",
                                   "Dashboard/report requests refused for their period (bad month, "
                                   "end before start, too long)", registry=r)
        self.queue_depth = Gauge("siaga_gateway_ingest_queue", "Messages waiting to be stored",
                                 registry=r)
        self.list_reads = Counter("siaga_gateway_list_reads_total",
                                  "Case-list requests, by how they were answered (computed: a "
                                  "query; shared: another request's result, gateway.list_cache)",
                                  ["how"], registry=r)
        self._logged: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def reject(self, reason: str, device: str | None, detail: str) -> None:
        """Count a rejection; log it once per (reason, device), not per message
        (a misconfigured box sending every second must not flood the log)."""
        self.rejected.labels(reason=reason).inc()
        key = (reason, device or "?")
        with self._lock:
            if key in self._logged:
                return
            if len(self._logged) > 10_000:
                self._logged.clear()
            self._logged.add(key)
        log.warning("Pesan ditolak / message rejected: reason=%s device=%s: %s "
                    "(further ones counted in /metrics only)", reason, device or "?", detail[:300])

    def rejected_count(self, reason: str) -> float:
        return self.rejected.labels(reason=reason)._value.get()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Tally:
    """Metric events of one intake attempt, applied only after its commit, so
    a retried or split batch is not counted twice (the city intake and the
    province intake both count this way)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.stored: list[str] = []
        self.rejects: list[tuple[str, str | None, str]] = []
        self.duplicates: list[str] = []

    def reject(self, reason: str, device: str | None, detail: str) -> None:
        self.rejects.append((reason, device, detail))

    def apply(self, m: Metrics) -> None:
        for k in self.received:
            m.received.labels(kind=k).inc()
        for k in self.stored:
            m.stored.labels(kind=k).inc()
        for r in self.rejects:
            m.reject(*r)
        for k in self.duplicates:
            m.duplicates.labels(kind=k).inc()

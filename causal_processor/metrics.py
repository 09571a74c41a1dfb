"""The processor's Prometheus metrics (served at /metrics on the OTLP HTTP port).

Each Processor owns a registry, so several can live in one process (tests, replay).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ProcessorMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        p = "kprobe_processor_"
        self.spans_in = Counter(p + "spans_received", "Spans received over OTLP", ["kind"], registry=r)
        self.spans_rejected = Counter(p + "spans_rejected", "Spans refused (bad span or bad request)",
                                      ["reason"], registry=r)
        self.requests = Counter(p + "requests", "OTLP export requests", ["transport", "outcome"], registry=r)
        self.spans_out = Counter(p + "spans_forwarded", "Spans forwarded to the OTLP backend", registry=r)
        self.spans_dropped = Counter(p + "spans_forward_dropped",
                                     "Spans not forwarded: queue full or retries exhausted", registry=r)
        self.events_stored = Counter(p + "events_stored", "Kernel events written to storage", registry=r)
        self.events_joined = Counter(p + "events_joined", "Kernel events given a financial context",
                                     ["method"], registry=r)
        self.join_confidence = Histogram(p + "join_confidence", "Confidence of each join",
                                         buckets=(0.1, 0.2, 0.3, 0.5, 0.7, 0.85, 0.9, 0.95, 1.0), registry=r)
        self.join_ratio = Gauge(p + "join_ratio", "Joined / stored kernel events since start", registry=r)
        self.spans_unresolved = Gauge(p + "spans_unresolved",
                                      "Application spans whose kernel thread is not known", registry=r)
        self.batch_seconds = Histogram(p + "batch_seconds", "Storage write latency per batch", ["table"],
                                       buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge(p + "queue_depth", "Items waiting", ["queue"], registry=r)
        self.wal_bytes = Gauge(p + "wal_pending_bytes",
                               "Write-ahead log bytes acknowledged and not yet in storage", registry=r)
        self.watermark_lag = Gauge(p + "watermark_lag_seconds",
                                   "Wall clock minus the join watermark", registry=r)

    def update_join_ratio(self) -> None:
        stored = self.events_stored._value.get()
        joined = sum(c._value.get() for c in self.events_joined._metrics.values())
        self.join_ratio.set(joined / stored if stored else 0.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

"""The processor: decode -> store (group commit) -> ack; join on a timer -> store, forward, publish.

An export request is acknowledged only after its kernel events and application spans
are in ClickHouse, so a crash or restart loses nothing acknowledged. Requests arriving
together are written as one batch (group commit), which is what makes small OTLP
requests cheap. The join runs on its own thread on event time; its results (contexts,
transactions, re-parented kernel spans) are idempotent writes, and its watermark is
persisted so a restarted processor reloads what it had not finished joining.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from causal_processor.config import ProcessorConfig
from causal_processor.forward.exporter import OtlpForwarder
from causal_processor.ingest.decode import Decoded, decode, decode_body
from causal_processor.ingest.event_frame import EventFrame, FrameEvents
from causal_processor.ingest.metrics_decode import decode_metrics
from causal_processor.join.joiner import Joiner, JoinOutput
from causal_processor.live import JOINED, STORED, LiveEvents
from causal_processor.metrics import ProcessorMetrics
from causal_processor.storage.records import span_row
from causal_processor.storage.store import ClickHouseEventStore, batch_token
from kprobe import otlp

log = logging.getLogger(__name__)

WATERMARK_KEY = "join_watermark_ns"


class Unavailable(RuntimeError):
    """Storage did not take the batch; the client should retry (OTLP: UNAVAILABLE / 503)."""


@dataclass
class ExportResult:
    rejected: int
    error_message: str


class Processor:
    def __init__(self, config: ProcessorConfig | None = None, store: ClickHouseEventStore | None = None):
        self.config = config or ProcessorConfig()
        self.metrics = ProcessorMetrics()
        self.live = LiveEvents()
        self.store = store or ClickHouseEventStore(
            self.config.storage.dsn, retention_days=self.config.storage.retention_days)
        self.joiner = Joiner(self.config.join.join_config())
        self._join_lock = threading.Lock()
        # One request decoded at a time: decoding is GIL-bound, and four concurrent decodes cost
        # 12 µs of CPU per span instead of 8 (bench/processor/bench_ingest.py, BENCHMARKS.md)
        self._decode_lock = threading.Lock()
        self._resources: dict[int, dict[str, str]] = {}
        fwd = self.config.forward
        self.forwarder = OtlpForwarder(fwd, self.metrics) if fwd.endpoint else None
        self._pending: list[tuple[Decoded, Future[None]]] = []
        self._pending_rows = 0
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_state = 0.0
        self._state_saved = False

    # ---- lifecycle ----------------------------------------------------------

    def start(self) -> Processor:
        self._rehydrate()
        for target, name in ((self._write_loop, "kprobe-store"), (self._join_loop, "kprobe-join")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, *, flush: bool = True, timeout: float = 10.0) -> None:
        """Stop; with flush, join and store everything buffered first."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
        if flush:
            with self._join_lock:
                out = self.joiner.flush()
            self._emit(out)
        if self.forwarder:
            self.forwarder.close(timeout if flush else 0.1)

    def _rehydrate(self) -> None:
        """Reload what the previous run had not finished joining."""
        wm = self.store.get_state(WATERMARK_KEY)
        if not wm:
            return
        self._state_saved = True
        since = wm - self.joiner.config.retention_ns
        spans = self.store.app_spans_since(since)
        n_events, cursor = 0, None
        with self._join_lock:
            self.joiner.add_spans(spans)
            while True:
                page = self.store.events_in_range(since, 2**63, limit=100_000, after=cursor)
                for ev in page.events:
                    ev["financial_context"] = {}
                self.joiner.add_events(page.events)
                n_events += len(page.events)
                cursor = page.next_cursor
                if cursor is None:
                    break
        log.info("rehydrated the join from %s: %d spans, %d events", since, len(spans), n_events)

    # ---- ingest -------------------------------------------------------------

    def export(self, req: trace_service_pb2.ExportTraceServiceRequest, transport: str = "grpc",
               timeout: float = 30.0) -> ExportResult:
        """Store one export request; returns once it is durable (or raises Unavailable)."""
        return self._export(decode(req, keep_forward=self._keep_forward), transport, timeout)

    def export_body(self, body: bytes, transport: str = "grpc", timeout: float = 30.0) -> ExportResult:
        """export() of an OTLP/protobuf body; BadRequest when it is not one. The receiver's
        kernel spans are decoded in bulk here, which is why the receivers pass bytes."""
        with self._decode_lock:
            d = decode_body(body, keep_forward=self._keep_forward)
        return self._export(d, transport, timeout)

    @property
    def _keep_forward(self) -> bool:
        return self.forwarder is not None and self.config.forward.app_spans

    def _export(self, d: Decoded, transport: str, timeout: float) -> ExportResult:
        self.metrics.spans_in.labels("app").inc(len(d.app_spans))
        self.metrics.spans_in.labels("kernel").inc(len(d.events))
        if d.rejected:
            self.metrics.spans_rejected.labels("invalid_span").inc(d.rejected)
        fut: Future[None] = Future()
        with self._cond:
            if self._stopping.is_set():
                raise Unavailable("processor is shutting down")
            self._pending.append((d, fut))
            self._pending_rows += len(d.events) + len(d.span_rows)
            self.metrics.queue_depth.labels("store").set(self._pending_rows)
            self._cond.notify()
        try:
            fut.result(timeout)
        except Exception as e:
            self.metrics.requests.labels(transport, "unavailable").inc()
            raise Unavailable(f"storage did not accept the batch: {e}") from e
        self.metrics.requests.labels(transport, "partial" if d.rejected else "ok").inc()
        if d.forward is not None and self.forwarder:
            self.forwarder.submit(d.forward)
        return ExportResult(d.rejected, d.error_message)

    def export_metrics(self, req: metrics_service_pb2.ExportMetricsServiceRequest,
                       transport: str = "grpc") -> ExportResult:
        """Store OTLP sums and gauges (the receiver's aggregates and lost-event counts)."""
        d = decode_metrics(req)
        try:
            self.store.write_metric_rows(d.sums, d.gauges, token=batch_token(
                "metrics", (repr(r[8:15]) for r in (*d.sums, *d.gauges))))
        except Exception as e:
            self.metrics.requests.labels(transport, "unavailable").inc()
            raise Unavailable(f"storage did not accept the metrics: {e}") from e
        self.metrics.requests.labels(transport, "partial" if d.rejected else "ok").inc()
        more = f" (+{len(d.errors) - 3} more)" if len(d.errors) > 3 else ""
        return ExportResult(d.rejected, "; ".join(d.errors[:3]) + more)

    def _take_batch(self) -> list[tuple[Decoded, Future[None]]]:
        cfg = self.config.storage
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._stopping.is_set())
            deadline = time.monotonic() + cfg.batch_ms / 1000
            while self._pending_rows < cfg.batch_rows and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    break
            batch, self._pending, self._pending_rows = self._pending, [], 0
            self.metrics.queue_depth.labels("store").set(0)
            return batch

    def _write_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stopping.is_set():
                    return
                continue
            frames = [d.events for d, _ in batch if len(d.events)]
            tables = [f.table for f in frames if f.table is not None]
            rows = [r for d, _ in batch for r in d.span_rows]
            resources = {pid: res for d, _ in batch for pid, res in d.resources.items()}
            upstream = [pair for d, _ in batch for pair in d.upstream]
            try:
                self._write(pa.concat_tables(tables) if tables else None, rows)
                if upstream:  # joined before they reached us (another processor upstream)
                    self.store.write_contexts(upstream, token=batch_token(
                        "ctx", (e["event_id"] for e, _ in upstream)))
            except Exception as e:
                log.exception("storage write failed")
                for _, fut in batch:
                    fut.set_exception(e)
                continue
            self._resources.update(resources)
            if not self._state_saved:
                self._save_first_watermark(frames, batch)
            with self._join_lock:
                self.joiner.add_spans(s for d, _ in batch for s in d.app_spans)
                for f in frames:
                    self.joiner.add_frame(f)
            for _, fut in batch:
                fut.set_result(None)
            self.metrics.events_stored.inc(sum(len(f) for f in frames))
            self.live.publish(STORED, FrameEvents(frames))

    def _save_first_watermark(self, frames: list[EventFrame],
                              batch: list[tuple[Decoded, Future[None]]]) -> None:
        """Before anything is joined, the first data's time is where a restart resumes."""
        times = [int(f.ts.min()) for f in frames] + [s.start_ns for d, _ in batch for s in d.app_spans]
        if times:
            self.store.set_state(WATERMARK_KEY, min(times))
            self._state_saved = True

    def _write(self, events: pa.Table | None, rows: list[list[Any]], attempts: int = 3) -> None:
        """Write with retries; the same rows carry the same token, so a retry never duplicates."""
        ev_token = batch_token("events", [] if events is None else (
            events.column("event_id").to_numpy().tobytes().hex(),))
        span_token = batch_token("spans", (r[2] for r in rows))
        for attempt in range(attempts):
            try:
                t0 = time.perf_counter()
                if events is not None:
                    self.store.write_event_table(events, token=ev_token)
                t1 = time.perf_counter()
                self.store.write_span_rows(rows, token=span_token)
                t2 = time.perf_counter()
                if events is not None:
                    self.metrics.batch_seconds.labels("kernel_events").observe(t1 - t0)
                if rows:
                    self.metrics.batch_seconds.labels("otel_traces").observe(t2 - t1)
                return
            except Exception:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.1 * 2**attempt)

    # ---- join ---------------------------------------------------------------

    def _join_loop(self) -> None:
        tick = self.config.join.tick_ms / 1000
        while not self._stopping.wait(tick):
            try:
                with self._join_lock:
                    out = self.joiner.advance()
                self._emit(out)
            except Exception:
                log.exception("join step failed; retrying next tick")

    def advance(self, watermark_ns: int | None = None) -> JoinOutput:
        """Run one join step now (the join thread does this every tick)."""
        with self._join_lock:
            out = self.joiner.advance(watermark_ns)
        self._emit(out)
        return out

    def _emit(self, out: JoinOutput) -> None:
        joined = out.joined
        if out.revoked:  # first, so the new context is the latest row of each moved event
            self.store.write_contexts(out.revoked)
        if joined:
            t0 = time.perf_counter()
            self.store.write_contexts(joined, token=batch_token(
                "ctx", (f"{e['event_id']}:{c['span_id']}" for e, c in joined)))
            rows, by_pid = [], {}
            for ev, _ in joined:
                span = otlp.event_to_span(ev)
                res = self._resources.get(ev["pid"], {})
                rows.append(span_row(span, res, otlp.SCOPE_NAME, otlp.SCOPE_VERSION))
                by_pid.setdefault(ev["pid"], []).append(span)
            self.store.write_span_rows(rows, token=batch_token("kspans", (r[1] + r[2] for r in rows)))
            self.metrics.batch_seconds.labels("event_context").observe(time.perf_counter() - t0)
            for _, ctx in joined:
                self.metrics.events_joined.labels(ctx["join_method"]).inc()
                self.metrics.join_confidence.observe(ctx["join_confidence"])
            if self.forwarder:
                self.forwarder.submit(self._kernel_request(by_pid))
            self.live.publish(JOINED, [ev for ev, _ in joined])
        if out.transactions:
            self.store.write_transactions(out.transactions)
        self.metrics.update_join_ratio()
        self.metrics.spans_unresolved.set(out.spans_unresolved)
        w = self.joiner.watermark
        if w > 0 and self._state_saved:
            self.metrics.watermark_lag.set(max(0.0, (time.time_ns() - w) / 1e9))
            if time.monotonic() - self._last_state > 1.0:
                self.store.set_state(WATERMARK_KEY, w)
                self._last_state = time.monotonic()

    def _kernel_request(self, by_pid: Mapping[int, Sequence[trace_pb2.Span]]
                        ) -> trace_service_pb2.ExportTraceServiceRequest:
        req = trace_service_pb2.ExportTraceServiceRequest()
        scope = common_pb2.InstrumentationScope(name=otlp.SCOPE_NAME, version=otlp.SCOPE_VERSION)
        for pid, spans in by_pid.items():
            attrs = dict(self._resources.get(pid, {}))
            attrs["process.pid"] = pid
            res = resource_pb2.Resource(attributes=[otlp.kv(k, v) for k, v in attrs.items()])
            req.resource_spans.append(trace_pb2.ResourceSpans(
                resource=res, scope_spans=[trace_pb2.ScopeSpans(scope=scope, spans=spans)]))
        return req

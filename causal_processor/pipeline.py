"""The processor: decode -> write-ahead log -> ack; store in big batches; join -> store, forward, publish.

An export request is acknowledged once it is decoded (its rejected spans counted) and its body
is fsynced in the write-ahead log (`storage/wal.py`), so a crash or restart loses nothing
acknowledged: the next start inserts what the log holds beyond its committed position. The
store thread inserts the decoded requests in batches of up to `storage.batch_rows` rows, each
batch under deduplication tokens made from its log range, so a replayed batch never
duplicates. The join runs on its own thread on event time; its results (contexts,
transactions, re-parented kernel spans) are idempotent writes, and its watermark is persisted
so a restarted processor reloads what it had not finished joining.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from causal_processor.config import ProcessorConfig
from causal_processor.forward.exporter import OtlpForwarder
from causal_processor.ingest.decode import BadRequest, Decoded, decode, decode_bodies, decode_body
from causal_processor.ingest.decode_batcher import DecodeBatcher
from causal_processor.ingest.event_frame import EventFrame, FrameEvents
from causal_processor.ingest.metrics_decode import decode_metrics
from causal_processor.join.joiner import Joiner, JoinOutput
from causal_processor.live import JOINED, STORED, LiveEvents
from causal_processor.metrics import ProcessorMetrics
from causal_processor.storage.batch_writer import Accepted, BatchWriter
from causal_processor.storage.records import span_row
from causal_processor.storage.store import ClickHouseEventStore, batch_token
from causal_processor.storage.wal import WriteAheadLog
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
        self._decoder = DecodeBatcher(lambda bodies: decode_bodies(bodies, keep_forward=self._keep_forward))
        self._resources: dict[int, dict[str, str]] = {}
        fwd = self.config.forward
        self.forwarder = OtlpForwarder(fwd, self.metrics) if fwd.endpoint else None
        self._pending: list[Accepted] = []
        self._pending_rows = 0  # acknowledged rows not yet stored (queued or being inserted)
        self._wal: WriteAheadLog | None = None
        self._fed = 0  # log position up to which requests are stored and given to the join
        self._flush_to = 0  # wait_stored() wants the log stored up to here without waiting for a batch
        self._writer: BatchWriter | None = None
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_state = 0.0
        self._state_saved = False

    # ---- lifecycle ----------------------------------------------------------

    def start(self) -> Processor:
        # Arrow buffers from glibc malloc: with pyarrow's default (mimalloc) the same runs cost
        # 1.5x the CPU per span, most of it in the store thread's Arrow serialisation for the
        # insert (BENCHMARKS.md, processor). Process-wide, as the pool is.
        pa.set_memory_pool(pa.system_memory_pool())
        self._wal = WriteAheadLog(self.config.storage.wal_path())
        self._writer = BatchWriter(self.store, self._wal, self.metrics)
        self._replay_wal()
        self._fed = self._wal.end
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
        if self._wal is not None:
            self._wal.close()
            self._wal = None

    @property
    def wal(self) -> WriteAheadLog | None:
        """The write-ahead log while the processor runs."""
        return self._wal

    def _replay_wal(self) -> None:
        """Store what the log holds beyond its committed position (acknowledged before a crash).
        The first batch is exactly the one that was in flight, so its tokens match."""
        assert self._wal is not None and self._writer is not None
        state = self._wal.state
        batch: list[Accepted] = []
        rows = n = 0
        for start, end, body in self._wal.records(state.committed):
            try:
                d = decode_body(body)
            except BadRequest:  # it was decoded before it was logged; a changed decoder refuses it
                log.exception("write-ahead log record at %d no longer decodes; skipped", start)
                d = Decoded()
            batch.append(Accepted(d, start, end))
            rows += batch[-1].rows
            n += 1
            if end == state.inflight_end or (end > state.inflight_end and rows >= self.config.storage.batch_rows):
                self._store(batch, give_up=lambda: False)
                batch, rows = [], 0
        if batch:
            self._store(batch, give_up=lambda: False)
        if n:
            log.info("replayed %d requests from the write-ahead log %s", n, self._wal.directory)

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
        return self._export(decode(req, keep_forward=self._keep_forward), req.SerializeToString(),
                            transport, timeout)

    def export_body(self, body: bytes, transport: str = "grpc", timeout: float = 30.0) -> ExportResult:
        """export() of an OTLP/protobuf body; BadRequest when it is not one. The receiver's
        kernel spans are decoded in bulk here, which is why the receivers pass bytes."""
        return self._export(self._decoder.decode(body), body, transport, timeout)

    @property
    def _keep_forward(self) -> bool:
        return self.forwarder is not None and self.config.forward.app_spans

    def _export(self, d: Decoded, body: bytes, transport: str, timeout: float) -> ExportResult:
        self.metrics.spans_in.labels("app").inc(len(d.app_spans))
        self.metrics.spans_in.labels("kernel").inc(len(d.events))
        if d.rejected:
            self.metrics.spans_rejected.labels("invalid_span").inc(d.rejected)
        if len(d.events) or d.span_rows or d.upstream:
            try:
                self._log(d, body, timeout)
            except Unavailable:
                self.metrics.requests.labels(transport, "unavailable").inc()
                raise
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

    def _log(self, d: Decoded, body: bytes, timeout: float) -> None:
        """Append the request to the log (queued for the store thread in log order), then wait
        for its fsync; Unavailable when too much waits for storage or the disk refuses."""
        assert self._wal is not None
        cfg = self.config.storage
        with self._cond:
            if not self._cond.wait_for(lambda: self._pending_rows < cfg.max_pending_rows
                                       or self._stopping.is_set(), timeout):
                raise Unavailable(f"storage is behind: {self._pending_rows} acknowledged rows wait for it")
            if self._stopping.is_set():
                raise Unavailable("processor is shutting down")
            try:
                start, end = self._wal.write(body)
            except OSError as e:
                raise Unavailable(f"the write-ahead log did not take the request: {e}") from e
            self._pending.append(Accepted(d, start, end))
            self._pending_rows += len(d.events) + len(d.span_rows)
            self.metrics.queue_depth.labels("store").set(self._pending_rows)
            self.metrics.wal_bytes.set(end - self._wal.state.committed)
            self._cond.notify_all()
        try:
            self._wal.sync(end)
        except OSError as e:
            raise Unavailable(f"the write-ahead log did not take the request: {e}") from e

    def wait_stored(self, timeout: float = 30.0) -> bool:
        """Wait until every request acknowledged before this call is in storage (and fed to the
        join), asking the store thread not to wait for a fuller batch; False on timeout."""
        if self._wal is None:
            return True
        target = self._wal.end
        with self._cond:
            self._flush_to = max(self._flush_to, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._fed >= target or self._stopping.is_set(), timeout)

    def _take_batch(self) -> list[Accepted]:
        """Queued requests, in log order, once batch_rows rows wait or the oldest has waited batch_ms."""
        cfg = self.config.storage
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._stopping.is_set())
            deadline = time.monotonic() + cfg.batch_ms / 1000
            while (not self._stopping.is_set() and self._flush_to <= self._fed
                   and sum(a.rows for a in self._pending) < cfg.batch_rows):
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    break
            rows, n = 0, 0
            while n < len(self._pending) and rows < cfg.batch_rows:  # inserts past 50k rows cost more per row
                rows += self._pending[n].rows
                n += 1
            batch, self._pending = self._pending[:n], self._pending[n:]
            return batch

    def _write_loop(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                if self._stopping.is_set():
                    return
                continue
            frame = self._store(batch, give_up=self._stopping.is_set)
            if frame is None:
                return  # stopping while storage refuses: the log keeps the rest
            with self._join_lock:
                self.joiner.add_spans(s for a in batch for s in a.decoded.app_spans)
                self.joiner.add_frame(frame)
            with self._cond:
                self._fed = batch[-1].end
                self._cond.notify_all()
            self.live.publish(STORED, FrameEvents([frame]))

    def _store(self, batch: list[Accepted], give_up: Callable[[], bool]) -> EventFrame | None:
        """Insert and commit the batch; its kernel events as one frame, or None when give_up()
        said to stop before storage took it."""
        assert self._writer is not None
        frame = EventFrame.concat([a.decoded.events for a in batch])
        if not self._writer.write(batch, frame, give_up):
            return None
        for a in batch:
            self._resources.update(a.decoded.resources)
        if not self._state_saved:
            self._save_first_watermark(batch)
        with self._cond:
            self._pending_rows -= sum(a.rows for a in batch)
            self.metrics.queue_depth.labels("store").set(max(self._pending_rows, 0))
            self._cond.notify_all()
        self.metrics.events_stored.inc(len(frame))
        return frame

    def _save_first_watermark(self, batch: list[Accepted]) -> None:
        """Before anything is joined, the first data's time is where a restart resumes."""
        times = [int(a.decoded.events.ts.min()) for a in batch if len(a.decoded.events)]
        times += [s.start_ns for a in batch for s in a.decoded.app_spans]
        if times:
            self.store.set_state(WATERMARK_KEY, min(times))
            self._state_saved = True

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
        """Run one join step now over everything acknowledged (the join thread does this every tick)."""
        self.wait_stored()
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

"""OTLP out: enriched spans to the user's tracing backend (Jaeger, Tempo, a Collector).

A bounded queue in front of a TraceService stub (grpcio, opentelemetry-proto's
generated client). Submitting never blocks: when the queue is full the oldest request
is dropped and counted. A down backend only costs retries on this thread; the spans
are already in ClickHouse, so nothing stored is lost.
"""

from __future__ import annotations

import collections
import logging
import threading

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from causal_processor.config import ForwardConfig
from causal_processor.metrics import ProcessorMetrics

log = logging.getLogger(__name__)

_RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED, grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.DATA_LOSS,
})


def span_count(req: trace_service_pb2.ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


class OtlpForwarder:
    def __init__(self, config: ForwardConfig, metrics: ProcessorMetrics):
        self.config = config
        self.metrics = metrics
        self._queue: collections.deque[trace_service_pb2.ExportTraceServiceRequest] = collections.deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._busy = False
        self._channel = (grpc.insecure_channel(config.endpoint) if config.insecure
                         else grpc.secure_channel(config.endpoint, grpc.ssl_channel_credentials()))
        self._stub = trace_service_pb2_grpc.TraceServiceStub(self._channel)
        self._metadata = config.metadata()
        self._thread = threading.Thread(target=self._run, name="kprobe-forward", daemon=True)
        self._thread.start()

    def submit(self, req: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._cond:
            if len(self._queue) >= self.config.queue_size:
                self.metrics.spans_dropped.inc(span_count(self._queue.popleft()))
            self._queue.append(req)
            self.metrics.queue_depth.labels("forward").set(len(self._queue))
            self._cond.notify()

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued has been sent or given up (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.drain(timeout)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        self._channel.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stop.is_set())
                if self._stop.is_set():
                    return
                req = self._queue.popleft()
                self._busy = True
                self.metrics.queue_depth.labels("forward").set(len(self._queue))
            try:
                self._send(req)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send(self, req: trace_service_pb2.ExportTraceServiceRequest) -> None:
        n = span_count(req)
        delay = 0.2
        for attempt in range(self.config.max_retries + 1):
            try:
                resp = self._stub.Export(req, timeout=self.config.timeout_s, metadata=self._metadata)
                rejected = resp.partial_success.rejected_spans
                self.metrics.spans_out.inc(n - rejected)
                if rejected:
                    self.metrics.spans_dropped.inc(rejected)
                    log.warning("backend rejected %d spans: %s", rejected,
                                resp.partial_success.error_message)
                return
            except grpc.RpcError as e:
                code = e.code() if hasattr(e, "code") else None
                if code not in _RETRYABLE or attempt == self.config.max_retries:
                    log.warning("forwarding %d spans to %s failed: %s", n, self.config.endpoint, code)
                    break
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, 5.0)
        self.metrics.spans_dropped.inc(n)

"""OTLP export of captured events: gRPC or HTTP/protobuf, bounded buffer, retries.

Captured events are queued and sent by one thread. While the endpoint is
unreachable the queue keeps everything up to `max_buffered_spans` and the
head request is retried with backoff; events beyond the bound are dropped and
counted (logged), never those already queued. Configuration follows the
OTel SDK variables: OTEL_EXPORTER_OTLP_{,TRACES_,METRICS_}ENDPOINT,
OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import grpc
import requests
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from collector_receiver.metrics import capture_metrics
from kprobe import otlp

if TYPE_CHECKING:
    from collector_receiver.capture import Capture, EventBatch
    from collector_receiver.resources import ProcessResources

log = logging.getLogger(__name__)

GRPC, HTTP = "grpc", "http/protobuf"
_RETRYABLE_GRPC = {
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED, grpc.StatusCode.UNKNOWN,
}
_RETRYABLE_HTTP = {408, 429, 502, 503, 504}


def endpoint_configured() -> bool:
    return any(os.environ.get(v) for v in (
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ))


def _headers(raw: str | None) -> dict[str, str]:
    out = {}
    for item in (raw or "").split(","):
        k, _, v = item.partition("=")
        if k.strip():
            out[k.strip()] = requests.utils.unquote(v.strip())
    return out


@dataclass
class _Item:
    kind: str  # "traces" or "metrics"
    spans: int
    build: Callable[[], Message]
    request: Message | None = None


class ExportFailed(Exception):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class OtlpExporter:
    """Sends capture output to one OTLP endpoint; see the module docstring."""

    def __init__(
        self,
        endpoint: str | None = None,
        protocol: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_buffered_spans: int = 1_000_000,
        timeout_s: float = 10.0,
        max_backoff_s: float = 5.0,
        max_spans_per_request: int = 2048,
    ) -> None:
        env = os.environ
        self.endpoint = (endpoint or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                         or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4317")
        self.protocol = (protocol or env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                         or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                         or (HTTP if urlparse(self.endpoint).port == 4318 else GRPC))
        if self.protocol not in (GRPC, HTTP):
            raise ValueError(f"OTLP protocol must be {GRPC} or {HTTP}, not {self.protocol!r}")
        self.headers = dict(headers or _headers(env.get("OTEL_EXPORTER_OTLP_HEADERS")))
        self.max_buffered_spans = max_buffered_spans
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        # ~200 B per span: well under the 4 MiB a Collector accepts per request by default
        self.max_spans_per_request = max_spans_per_request
        self.sent_spans = 0
        self.dropped_spans = 0
        self.buffered_spans = 0
        self._queue: collections.deque[_Item] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._failing = False
        self._metrics_start_ns = time.time_ns()
        self._send: Callable[[_Item], None] = (
            self._grpc_sender() if self.protocol == GRPC else self._http_sender()
        )
        self._thread = threading.Thread(target=self._run, name="kprobe-otlp", daemon=True)
        self._thread.start()

    # -- what the capture calls ----------------------------------------------
    def export_events(self, evs: EventBatch, resources: ProcessResources) -> None:
        with self._cond:
            room = self.max_buffered_spans - self.buffered_spans
        if room < len(evs):
            self._drop(len(evs) - max(room, 0))
            evs = evs[: max(room, 0)]
        if evs:
            snapshot = resources.all()
            step = self.max_spans_per_request
            for i in range(0, len(evs), step):
                part = evs[i : i + step]
                self._enqueue(_Item("traces", len(part),
                                    lambda part=part: otlp.events_to_request(part, snapshot)))

    def export_metrics(self, capture: Capture) -> None:
        req = capture_metrics(capture, self._metrics_start_ns)
        self._enqueue(_Item("metrics", 0, lambda: req))

    def _drop(self, n: int) -> None:
        """Past the bound the newest events go: what is queued is older and kept."""
        with self._cond:
            self.dropped_spans += n
        log.warning("OTLP buffer full (%d spans waiting for %s): dropped %d new spans",
                    self.max_buffered_spans, self.endpoint, n)

    def _enqueue(self, item: _Item) -> None:
        with self._cond:
            self.buffered_spans += item.spans
            self._queue.append(item)
            self._cond.notify()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued was sent; False if the timeout came first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._queue:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (up to timeout_s), then stop; report what was not sent."""
        done = self.flush(timeout_s)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=2)
        if not done:
            log.error("OTLP endpoint %s unreachable: %d captured spans were not delivered",
                      self.endpoint, self.buffered_spans)

    # -- sending ----------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.2
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                item = self._queue[0]
            try:
                if item.request is None:
                    item.request = item.build()
                self._send(item)
            except ExportFailed as e:
                if e.retryable:
                    if not self._failing:
                        log.warning("OTLP endpoint %s unreachable (%s): buffering up to %d spans "
                                    "and retrying", self.endpoint, e, self.max_buffered_spans)
                    self._failing = True
                    with self._cond:
                        self._cond.wait_for(lambda: self._closing, timeout=backoff)
                    backoff = min(backoff * 2, self.max_backoff_s)
                    continue
                log.error("OTLP endpoint %s rejected %s (%d spans): %s",
                          self.endpoint, item.kind, item.spans, e)
                self.dropped_spans += item.spans
            else:
                if self._failing:
                    log.info("OTLP endpoint %s reachable again", self.endpoint)
                self._failing = False
                backoff = 0.2
                self.sent_spans += item.spans
            with self._cond:
                self._queue.popleft()
                self.buffered_spans -= item.spans
                self._cond.notify_all()

    def _grpc_sender(self) -> Callable[[_Item], None]:
        u = urlparse(self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}")
        target = u.netloc
        # Reconnect quickly once the endpoint is back: the retry loop owns the backoff.
        options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000)]
        channel = (grpc.secure_channel(target, grpc.ssl_channel_credentials(), options)
                   if u.scheme == "https" else grpc.insecure_channel(target, options))
        stubs: dict[str, Any] = {
            "traces": trace_service_pb2_grpc.TraceServiceStub(channel).Export,
            "metrics": metrics_service_pb2_grpc.MetricsServiceStub(channel).Export,
        }
        metadata = tuple(self.headers.items())

        def send(item: _Item) -> None:
            try:
                stubs[item.kind](item.request, timeout=self.timeout_s, metadata=metadata)
            except grpc.RpcError as e:
                code = e.code()  # type: ignore[attr-defined]
                raise ExportFailed(f"{code.name}: {e.details()}",  # type: ignore[attr-defined]
                                   code in _RETRYABLE_GRPC) from e

        return send

    def _http_sender(self) -> Callable[[_Item], None]:
        session = requests.Session()
        base = self.endpoint.rstrip("/")
        explicit = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == self.endpoint
        urls = {
            "traces": base if explicit or base.endswith("/v1/traces") else base + "/v1/traces",
            "metrics": (base.rsplit("/v1/", 1)[0] if "/v1/" in base else base) + "/v1/metrics",
        }
        headers = {"Content-Type": "application/x-protobuf", **self.headers}

        def send(item: _Item) -> None:
            assert item.request is not None
            try:
                r = session.post(urls[item.kind], data=item.request.SerializeToString(),
                                 headers=headers, timeout=self.timeout_s)
            except requests.RequestException as e:
                raise ExportFailed(type(e).__name__, True) from e
            if r.status_code >= 300:
                raise ExportFailed(f"HTTP {r.status_code}", r.status_code in _RETRYABLE_HTTP)

        return send

"""The capture's OTLP metrics: aggregated event counts and the receiver's own health.

`kprobe.receiver.lost_events` counts records the kernel could not hand over
(ring buffer full); `kprobe.events` / `kprobe.events.duration` carry the types
a policy aggregates instead of emitting as spans (minor page faults by default).
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

from kprobe import otlp

if TYPE_CHECKING:
    from collector_receiver.capture import Capture

LOST_EVENTS = "kprobe.receiver.lost_events"
EVENTS = "kprobe.events"
EVENT_DURATION = "kprobe.events.duration"


def _sum(name: str, unit: str, description: str,
         points: list[metrics_pb2.NumberDataPoint]) -> metrics_pb2.Metric:
    return metrics_pb2.Metric(
        name=name, unit=unit, description=description,
        sum=metrics_pb2.Sum(
            data_points=points, is_monotonic=True,
            aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE,
        ),
    )


def capture_metrics(cap: Capture, start_ns: int) -> metrics_service_pb2.ExportMetricsServiceRequest:
    now = time.time_ns()

    def point(value: int, *attrs: common_pb2.KeyValue) -> metrics_pb2.NumberDataPoint:
        return metrics_pb2.NumberDataPoint(
            start_time_unix_nano=start_ns, time_unix_nano=now, as_int=value, attributes=attrs
        )

    counts, durations = [], []
    for (event_type, pid, major), c in sorted(cap.aggregates.counters.items()):
        attrs = [otlp.kv(otlp.EVENT_TYPE_KEY, event_type), otlp.kv("process.pid", pid)]
        if event_type == "PageFault":
            attrs.append(otlp.kv("kprobe.fault.major", major))
        counts.append(point(c.count, *attrs))
        durations.append(point(c.duration_ns, *attrs))
    metrics = [
        _sum(LOST_EVENTS, "{event}", "kernel events lost because the ring buffer was full",
             [point(cap.stats.lost_events)]),
    ]
    if counts:
        metrics.append(_sum(EVENTS, "{event}", "events aggregated instead of emitted as spans", counts))
        metrics.append(_sum(EVENT_DURATION, "ns", "total duration of the aggregated events", durations))
    resource = resource_pb2.Resource(attributes=[
        otlp.kv("service.name", "kprobe-receiver"), otlp.kv("host.name", socket.gethostname()),
    ])
    scope = common_pb2.InstrumentationScope(name=otlp.SCOPE_NAME, version=otlp.SCOPE_VERSION)
    return metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[
        metrics_pb2.ResourceMetrics(
            resource=resource,
            scope_metrics=[metrics_pb2.ScopeMetrics(scope=scope, metrics=metrics)],
        )
    ])

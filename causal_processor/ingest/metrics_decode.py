"""OTLP metrics -> otel_metrics_sum / otel_metrics_gauge rows (the Collector exporter's form).

The receiver reports what it aggregated instead of emitting spans, and its lost events,
as OTLP sums; services may send gauges. Histograms, exponential histograms and
summaries are not stored: their data points are refused as OTLP partial success.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from causal_processor.ingest.decode import parse_protobuf
from causal_processor.storage.records import attr_map


@dataclass
class DecodedMetrics:
    sums: list[list[Any]] = field(default_factory=list)
    gauges: list[list[Any]] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


def parse_metrics(body: bytes) -> metrics_service_pb2.ExportMetricsServiceRequest:
    return parse_protobuf(body, metrics_service_pb2.ExportMetricsServiceRequest)


def _value(p: metrics_pb2.NumberDataPoint) -> float:
    return float(p.as_int) if p.WhichOneof("value") == "as_int" else p.as_double


def decode_metrics(req: metrics_service_pb2.ExportMetricsServiceRequest) -> DecodedMetrics:
    out = DecodedMetrics()
    for rm in req.resource_metrics:
        res = attr_map(rm.resource.attributes)
        for sm in rm.scope_metrics:
            head = [res, rm.schema_url, sm.scope.name, sm.scope.version, attr_map(sm.scope.attributes),
                    sm.scope.dropped_attributes_count, sm.schema_url, res.get("service.name", "")]
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                if kind not in ("sum", "gauge"):
                    n = len(getattr(m, kind).data_points) if kind else 0
                    out.rejected += n
                    out.errors.append(f"metric {m.name!r}: {kind or 'no data'} is not stored (sums and gauges are)")
                    continue
                data = getattr(m, kind)
                for p in data.data_points:
                    row = [*head, m.name, m.description, m.unit, attr_map(p.attributes),
                           p.start_time_unix_nano, p.time_unix_nano, _value(p), p.flags,
                           [attr_map(e.filtered_attributes) for e in p.exemplars],
                           [e.time_unix_nano for e in p.exemplars],
                           [float(e.as_int) if e.WhichOneof("value") == "as_int" else e.as_double
                            for e in p.exemplars],
                           [e.span_id.hex() for e in p.exemplars], [e.trace_id.hex() for e in p.exemplars]]
                    if kind == "sum":
                        out.sums.append([*row, data.aggregation_temporality, data.is_monotonic])
                    else:
                        out.gauges.append(row)
    return out

"""OTLP metrics in (the receiver's aggregates, services' sums and gauges) with the real SDK."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_sums_and_gauges_are_stored_histograms_refused(running, transport):
    if transport == "grpc":
        exporter = GrpcMetrics(endpoint=f"127.0.0.1:{running.grpc_port}", insecure=True)
    else:
        exporter = HttpMetrics(endpoint=f"http://127.0.0.1:{running.http_port}/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": f"pay-{transport}"}),
                             metric_readers=[reader])
    meter = provider.get_meter("t")
    meter.create_counter("payments.settled").add(7, {"currency": "INR"})
    meter.create_observable_gauge("ledger.queue", callbacks=[lambda _: [Observation(3.5)]])
    meter.create_histogram("payment.latency").record(12.0)
    provider.shutdown()  # one collection, exported once
    c = running.processor.store.client
    sums = c.query("SELECT MetricName, Value, Attributes, IsMonotonic FROM otel_metrics_sum "
                   "WHERE ServiceName = {s:String}", parameters={"s": f"pay-{transport}"}).result_rows
    assert sums == [("payments.settled", 7.0, {"currency": "INR"}, True)]
    gauges = c.query("SELECT MetricName, Value FROM otel_metrics_gauge WHERE ServiceName = {s:String}",
                     parameters={"s": f"pay-{transport}"}).result_rows
    assert gauges == [("ledger.queue", 3.5)]
    m = running.processor.metrics.requests
    assert m.labels(transport, "partial")._value.get() >= 1  # the histogram's point was refused

"""OpenTelemetry setup of a testbed service: SDK, OTLP exporter, standard instrumentation.

Configured only by the standard OTEL_* environment (endpoint, protocol, batch
delay), so the services export to whatever collector the operator points them at:
the kprobe processor in the demo, a test's own OTLP server in the tests.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import ProcessResourceDetector, Resource, get_aggregated_resources
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter


def _exporter() -> SpanExporter | None:
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp") == "none":
        return None
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HTTPSpanExporter,
    )

    return HTTPSpanExporter()


def init_tracing(service_name: str, *, instrument_requests: bool = False) -> TracerProvider:
    """Install a global TracerProvider whose resource carries service.name and process.pid."""
    resource = get_aggregated_resources(
        [ProcessResourceDetector()],
        initial_resource=Resource.create({"service.name": service_name}),
    )
    provider = TracerProvider(resource=resource)
    exporter = _exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if instrument_requests:
        RequestsInstrumentor().instrument(tracer_provider=provider)
    return provider


def current_trace_id() -> str:
    """Hex trace id of the active span ("" outside a trace)."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""

"""OTLP/gRPC receiver (TraceService/Export) on grpcio.

The request is taken as raw bytes and parsed here, so a malformed body gets
INVALID_ARGUMENT with the parser's reason (grpcio's own deserializer would answer
INTERNAL); oversized messages get RESOURCE_EXHAUSTED from grpcio's size limit;
storage trouble is UNAVAILABLE, which OTLP clients retry.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from causal_processor.ingest.decode import BadRequest, parse_protobuf
from causal_processor.ingest.metrics_decode import parse_metrics
from causal_processor.pipeline import Processor, Unavailable

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"


class GrpcReceiver:
    def __init__(self, processor: Processor, endpoint: str, *, max_request_bytes: int, workers: int = 8):
        self.processor = processor
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
            options=[("grpc.max_receive_message_length", max_request_bytes)],
        )
        handler = grpc.unary_unary_rpc_method_handler(
            self._export,
            request_deserializer=None,
            response_serializer=trace_service_pb2.ExportTraceServiceResponse.SerializeToString,
        )
        metrics_handler = grpc.unary_unary_rpc_method_handler(
            self._export_metrics,
            request_deserializer=None,
            response_serializer=metrics_service_pb2.ExportMetricsServiceResponse.SerializeToString,
        )
        self.server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),
            grpc.method_handlers_generic_handler(METRICS_SERVICE, {"Export": metrics_handler}),
        ))
        self.port = self.server.add_insecure_port(endpoint)
        if not self.port:
            raise OSError(f"cannot listen for OTLP/gRPC on {endpoint}")

    def start(self) -> GrpcReceiver:
        self.server.start()
        return self

    def stop(self, grace: float = 1.0) -> None:
        self.server.stop(grace).wait()

    def _export(self, body: bytes, context: grpc.ServicerContext) -> trace_service_pb2.ExportTraceServiceResponse:
        try:
            req = parse_protobuf(body)
        except BadRequest as e:
            self.processor.metrics.requests.labels("grpc", "malformed").inc()
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        try:
            result = self.processor.export(req, "grpc")
        except Unavailable as e:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        resp = trace_service_pb2.ExportTraceServiceResponse()
        if result.rejected:
            resp.partial_success.rejected_spans = result.rejected
            resp.partial_success.error_message = result.error_message
        return resp

    def _export_metrics(self, body: bytes, context: grpc.ServicerContext
                        ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        try:
            req = parse_metrics(body)
        except BadRequest as e:
            self.processor.metrics.requests.labels("grpc", "malformed").inc()
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        try:
            result = self.processor.export_metrics(req, "grpc")
        except Unavailable as e:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        resp = metrics_service_pb2.ExportMetricsServiceResponse()
        if result.rejected:
            resp.partial_success.rejected_data_points = result.rejected
            resp.partial_success.error_message = result.error_message
        return resp

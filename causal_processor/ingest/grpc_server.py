"""OTLP/gRPC receiver (TraceService/Export, MetricsService/Export) on grpcio.

The request is taken as raw bytes and parsed here, so a malformed body gets
INVALID_ARGUMENT with the parser's reason (grpcio's own deserializer would answer
INTERNAL); oversized messages get RESOURCE_EXHAUSTED from grpcio's size limit;
storage trouble is UNAVAILABLE, which OTLP clients retry.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from causal_processor.ingest.decode import BadRequest, parse_protobuf
from causal_processor.pipeline import ExportResult, Processor, Unavailable

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"


class GrpcReceiver:
    def __init__(self, processor: Processor, endpoint: str, *, max_request_bytes: int, workers: int = 8):
        self.processor = processor
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
            options=[("grpc.max_receive_message_length", max_request_bytes)],
        )
        traces = self._handler(processor.export_body, trace_service_pb2.ExportTraceServiceResponse,
                               "rejected_spans")
        metrics = self._handler(
            lambda body, transport: processor.export_metrics(
                parse_protobuf(body, metrics_service_pb2.ExportMetricsServiceRequest), transport),
            metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points")
        self.server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler(SERVICE, {"Export": traces}),
            grpc.method_handlers_generic_handler(METRICS_SERVICE, {"Export": metrics}),
        ))
        self.port = self.server.add_insecure_port(endpoint)
        if not self.port:
            raise OSError(f"cannot listen for OTLP/gRPC on {endpoint}")

    def start(self) -> GrpcReceiver:
        self.server.start()
        return self

    def stop(self, grace: float = 1.0) -> None:
        self.server.stop(grace).wait()

    def _handler(self, export: Callable[[bytes, str], ExportResult], response_cls: type[Message],
                 rejected_field: str) -> grpc.RpcMethodHandler:
        def handle(body: bytes, context: grpc.ServicerContext) -> Message:
            try:
                result = export(body, "grpc")
            except BadRequest as e:
                self.processor.metrics.requests.labels("grpc", "malformed").inc()
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            except Unavailable as e:
                context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
            resp = response_cls()
            if result.rejected:
                setattr(resp.partial_success, rejected_field, result.rejected)
                resp.partial_success.error_message = result.error_message
            return resp

        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=None, response_serializer=response_cls.SerializeToString)

"""OTLP/HTTP receiver (POST /v1/traces and /v1/metrics, protobuf or JSON) on aiohttp, plus /metrics.

aiohttp undoes gzip/deflate Content-Encoding and enforces the size limit on the
decoded body. Errors follow OTLP/HTTP: 400 for a malformed body, 415 for a content type other than
application/x-protobuf or application/json, 413 beyond the size limit, 503 when storage
is unavailable (retryable), each with a google.rpc.Status body in the request's
encoding. Success is 200 with ExportTraceServiceResponse (partial_success if any span
was rejected).
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from causal_processor.ingest.decode import BadRequest, parse_json
from causal_processor.ingest.metrics_decode import parse_metrics
from causal_processor.pipeline import Processor, Unavailable

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_GRPC_CODE = {400: 3, 413: 8, 415: 3, 503: 14}  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE


def _encode(msg, content_type: str) -> bytes:
    if content_type == JSON:
        return json_format.MessageToJson(msg, preserving_proto_field_name=False).encode()
    return msg.SerializeToString()


class HttpReceiver:
    def __init__(self, processor: Processor, host: str, port: int, *, max_request_bytes: int):
        self.processor = processor
        self.host = host
        self.port = port
        self.max_bytes = max_request_bytes
        app = web.Application(client_max_size=max_request_bytes + 1)
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_post("/v1/metrics", self._metrics_in)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._health)
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> HttpReceiver:
        self._thread = threading.Thread(target=self._run, name="otlp-http", daemon=True)
        self._thread.start()
        self._started.wait(10)
        if self._error:
            raise OSError(f"cannot listen for OTLP/HTTP on {self.host}:{self.port}: {self._error}")
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self._app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        except BaseException as e:
            self._error = e
            self._started.set()
            return
        self._started.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    async def _metrics(self, request: web.Request) -> web.Response:
        self.processor.metrics.update_join_ratio()
        return web.Response(body=self.processor.metrics.exposition(),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _error_response(self, status: int, message: str, content_type: str) -> web.Response:
        self.processor.metrics.requests.labels("http", str(status)).inc()
        body = _encode(status_pb2.Status(code=_GRPC_CODE.get(status, 2), message=message), content_type)
        headers = {"Content-Type": content_type}
        if status == 503:
            headers["Retry-After"] = "1"
        return web.Response(status=status, body=body, headers=headers)

    async def _traces(self, request: web.Request) -> web.Response:
        return await self._export(request, metrics=False)

    async def _metrics_in(self, request: web.Request) -> web.Response:
        return await self._export(request, metrics=True)

    async def _export(self, request: web.Request, *, metrics: bool) -> web.Response:
        ctype = request.content_type
        reply_type = JSON if ctype == JSON else PROTOBUF
        if ctype not in (PROTOBUF, JSON):
            return self._error_response(
                415, f"unsupported content type {ctype!r}: use {PROTOBUF} or {JSON}", reply_type)
        if request.content_length is not None and request.content_length > self.max_bytes:
            return self._error_response(
                413, f"request of {request.content_length} bytes exceeds the limit of {self.max_bytes}", reply_type)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._error_response(413, f"request exceeds the limit of {self.max_bytes} bytes", reply_type)
        try:
            if metrics:
                req = (parse_json(body, metrics_service_pb2.ExportMetricsServiceRequest) if ctype == JSON
                       else parse_metrics(body))
                export, arg = self.processor.export_metrics, req
            elif ctype == JSON:
                export, arg = self.processor.export, parse_json(body)
            else:  # parsed in the executor: the receiver's kernel spans are decoded in bulk there
                export, arg = self.processor.export_body, body
            result = await asyncio.get_running_loop().run_in_executor(None, export, arg, "http")
        except BadRequest as e:
            return self._error_response(400, str(e), reply_type)
        except Unavailable as e:
            return self._error_response(503, str(e), reply_type)
        if metrics:
            resp = metrics_service_pb2.ExportMetricsServiceResponse()
            resp.partial_success.rejected_data_points = result.rejected
        else:
            resp = trace_service_pb2.ExportTraceServiceResponse()
            resp.partial_success.rejected_spans = result.rejected
        if result.rejected:
            resp.partial_success.error_message = result.error_message
        else:
            resp.ClearField("partial_success")
        return web.Response(status=200, body=_encode(resp, reply_type), headers={"Content-Type": reply_type})

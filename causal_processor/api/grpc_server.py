"""The grpcio (asyncio) server: the method table, health, reflection, auth.

It listens on a private address (a unix socket by default) behind the front
listener on :8080; it can also be bound to a TCP port of its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .auth import Authenticator, bearer_token, log_rejection
from .errors import ApiError
from .registry import SERVICES, Method

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 << 20


async def _abort(context: grpc.aio.ServicerContext, m: Method, e: Exception) -> None:
    """ApiError -> its status; anything else -> INTERNAL, details only in the log."""
    if isinstance(e, ApiError):
        await context.abort(e.code, e.message)
    log.error("%s failed", m.path, exc_info=e)
    await context.abort(grpc.StatusCode.INTERNAL, f"{m.path} failed; see the server log")


def _unary(m: Method) -> Callable[..., Any]:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await m.handler(request)
        except Exception as e:
            await _abort(context, m, e)

    return behavior


def _stream(m: Method) -> Callable[..., Any]:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for msg in m.handler(request):
                yield msg
        except Exception as e:
            await _abort(context, m, e)

    return behavior


def _handler(m: Method) -> grpc.RpcMethodHandler:
    kind = grpc.unary_stream_rpc_method_handler if m.server_streaming else grpc.unary_unary_rpc_method_handler
    behavior = _stream(m) if m.server_streaming else _unary(m)
    return kind(
        behavior,
        request_deserializer=m.request_type.FromString,
        response_serializer=m.response_type.SerializeToString,
    )


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Rejects every call (health and reflection included) without a valid bearer token."""

    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        meta = dict(details.invocation_metadata or ())
        presented = meta.get("authorization")
        if self._auth.token_ok(bearer_token(presented)):
            return await continuation(details)
        log_rejection(details.method, None, "wrong bearer token" if presented else "missing bearer token")
        handler = await continuation(details)
        return _deny_like(handler)


def _deny_like(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler:
    msg = "missing or wrong bearer token (metadata `authorization: Bearer <token>`)"

    async def deny_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, msg)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, msg)
        yield  # pragma: no cover - makes this an async generator

    if handler is None:
        return grpc.unary_unary_rpc_method_handler(deny_unary)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            deny_stream, handler.request_deserializer, handler.response_serializer
        )
    return grpc.unary_unary_rpc_method_handler(
        deny_unary, handler.request_deserializer, handler.response_serializer
    )


def build(methods: dict[str, Method], auth: Authenticator) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A configured (not yet started) server and its health servicer."""
    server = grpc.aio.server(
        interceptors=[AuthInterceptor(auth)] if auth.enabled else None,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    for svc in SERVICES:
        table = {m.descriptor.name: _handler(m) for m in methods.values() if m.descriptor.containing_service is svc}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(svc.full_name, table),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [svc.full_name for svc in SERVICES] + [
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    ]
    reflection.enable_server_reflection(names, server)
    return server, health_servicer

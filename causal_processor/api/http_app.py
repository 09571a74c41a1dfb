"""The HTTP/1.1 side of :8080 (aiohttp): JSON routes, gRPC-Web, /stream, console.

Every route ends in a Method of the registry, so JSON, gRPC-Web and gRPC
answer a query with the same code and the same errors.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from . import grpcweb, query_params
from .auth import Authenticator, OriginPolicy, bearer_token, log_rejection, ws_protocol_token
from .errors import ApiError, invalid_argument
from .registry import Method

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
NDJSON_TYPE = "application/x-ndjson"
MAX_BODY = 16 << 20

# (HTTP method, route, gRPC path): GET routes for browsers and Grafana's data proxy.
REST_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/api/v1/transactions/{transaction_id}/graph", "/kprobe.v1.CausalGraphService/GetCausalGraph"),
    ("GET", "/api/v1/transactions/{transaction_id}/root-cause", "/kprobe.v1.CausalGraphService/GetRootCause"),
    ("GET", "/api/v1/traverse", "/kprobe.v1.CausalGraphService/Traverse"),
    ("GET", "/api/v1/transactions/{transaction_id}/timeline", "/kprobe.v1.TimelineService/GetTransactionTimeline"),
    ("GET", "/api/v1/events", "/kprobe.v1.TimelineService/GetEvents"),
    ("GET", "/api/v1/search/transactions", "/kprobe.v1.SearchService/SearchTransactions"),
    ("GET", "/api/v1/search/events", "/kprobe.v1.SearchService/SearchEvents"),
    ("GET", "/api/v1/search/chains", "/kprobe.v1.SearchService/SearchCausalChains"),
    ("GET", "/api/v1/search/top-root-causes", "/kprobe.v1.SearchService/TopRootCauses"),
    ("POST", "/api/v1/replay/sessions", "/kprobe.v1.ReplayService/CreateSession"),
    ("GET", "/api/v1/replay/sessions", "/kprobe.v1.ReplayService/ListSessions"),
    ("GET", "/api/v1/replay/sessions/{session_id}", "/kprobe.v1.ReplayService/GetSession"),
    ("GET", "/api/v1/replay/sessions/{session_id}/watch", "/kprobe.v1.ReplayService/WatchSession"),
    ("POST", "/api/v1/replay/sessions/{session_id}/control", "/kprobe.v1.ReplayService/ControlSession"),
    ("DELETE", "/api/v1/replay/sessions/{session_id}", "/kprobe.v1.ReplayService/DeleteSession"),
)

_CORS_HEADERS = "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout"
_CORS_EXPOSE = "grpc-status, grpc-message"


def to_json(msg: Message) -> str:
    return json_format.MessageToJson(msg, preserving_proto_field_name=True, indent=None)


def _error_response(e: ApiError) -> web.Response:
    return web.json_response(e.to_json(), status=e.http_status)


def _parse_json(body: bytes, msg: Message) -> Message:
    if not body.strip():
        return msg
    try:
        return json_format.Parse(body, msg)
    except json_format.ParseError as e:
        raise invalid_argument(f"request body: {e}") from None


async def _call_json(request: web.Request, m: Method, msg: Message) -> web.StreamResponse:
    try:
        if not m.server_streaming:
            reply = await m.handler(msg)
            return web.Response(text=to_json(reply), content_type=JSON_TYPE)
        stream = m.handler(msg)
        first = await anext(stream, None)  # errors before the first message keep their status
    except ApiError as e:
        return _error_response(e)
    resp = web.StreamResponse(headers={"Content-Type": NDJSON_TYPE})
    await resp.prepare(request)
    try:
        if first is not None:
            await resp.write((to_json(first) + "\n").encode())
            async for reply in stream:
                await resp.write((to_json(reply) + "\n").encode())
    except ApiError as e:
        await resp.write((json.dumps({"error": e.to_json()}) + "\n").encode())
    except ConnectionResetError:  # the client went away mid-stream
        return resp
    finally:
        await stream.aclose()
    await resp.write_eof()
    return resp


async def _call_grpc_web(request: web.Request, m: Method) -> web.StreamResponse:
    ctype = request.content_type
    text = grpcweb.is_text(ctype)
    resp = web.StreamResponse(headers={"Content-Type": ctype})
    await resp.prepare(request)
    try:
        try:
            payload = grpcweb.decode_request(await request.read(), text)
            msg = m.request_type.FromString(payload)
        except (grpcweb.FramingError, ValueError) as e:
            raise invalid_argument(f"gRPC-Web request: {e}") from None
        if m.server_streaming:
            async with contextlib.aclosing(m.handler(msg)) as stream:  # ends the subscription with the request
                async for reply in stream:
                    await resp.write(grpcweb.encode_for(text, grpcweb.message_frame(reply.SerializeToString())))
        else:
            reply = await m.handler(msg)
            await resp.write(grpcweb.encode_for(text, grpcweb.message_frame(reply.SerializeToString())))
        trailer = grpcweb.trailers_frame(grpc.StatusCode.OK)
    except ApiError as e:
        trailer = grpcweb.trailers_frame(e.code, e.message)
    except ConnectionResetError:  # the browser went away mid-stream
        return resp
    except Exception:
        log.exception("%s failed", m.path)
        trailer = grpcweb.trailers_frame(grpc.StatusCode.INTERNAL, f"{m.path} failed; see the server log")
    await resp.write(grpcweb.encode_for(text, trailer))
    await resp.write_eof()
    return resp


def _rpc_route(methods: dict[str, Method]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        m = methods.get(path)
        if m is None:
            return _error_response(ApiError(grpc.StatusCode.UNIMPLEMENTED, f"no method {path}"))
        if grpcweb.is_grpc_web(request.content_type):
            return await _call_grpc_web(request, m)
        if request.content_type != JSON_TYPE:
            return _error_response(invalid_argument(
                f"Content-Type {request.content_type!r}: use application/json or application/grpc-web+proto"))
        try:
            msg = _parse_json(await request.read(), m.request_type())
        except ApiError as e:
            return _error_response(e)
        return await _call_json(request, m, msg)

    return handle


def _rest_route(m: Method, http_method: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            msg = m.request_type()
            if http_method == "POST":
                _parse_json(await request.read(), msg)
            query_params.fill(msg, request.match_info.items())
            query_params.fill(msg, request.query.items())
        except ApiError as e:
            return _error_response(e)
        return await _call_json(request, m, msg)

    return handle


def security_middleware(auth: Authenticator, origins: OriginPolicy, public_prefixes: tuple[str, ...]) -> Any:
    """Origin check, CORS and bearer tokens for every route but preflights and static assets."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not origins.allows(origin, request.host):
            log.warning("refused %s %s from origin %s", request.method, request.path, origin)
            return web.json_response(
                {"code": "PERMISSION_DENIED", "message": f"origin {origin} is not allowed (--allow-origin)"},
                status=403,
            )
        if request.method == "OPTIONS":
            return _with_cors(web.Response(status=204), origin)
        if auth.enabled and not request.path.startswith(public_prefixes):
            presented = bearer_token(request.headers.get("Authorization"))
            if presented is None and request.path == "/stream":
                presented = ws_protocol_token(request.headers.get("Sec-WebSocket-Protocol"))
            if not auth.token_ok(presented):
                log_rejection(f"{request.method} {request.path}", request.remote,
                              "wrong bearer token" if presented else "missing bearer token")
                resp = web.json_response(
                    {"code": "UNAUTHENTICATED", "message": "missing or wrong bearer token"},
                    status=401, headers={"WWW-Authenticate": 'Bearer realm="kprobe"'},
                )
                return _with_cors(resp, origin)
        resp = await handler(request)
        if not resp.prepared:
            _with_cors(resp, origin)
        return resp

    return middleware


def _with_cors(resp: web.StreamResponse, origin: str | None) -> web.StreamResponse:
    if origin:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Vary"] = "Origin"
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
        resp.headers["Access-Control-Expose-Headers"] = _CORS_EXPOSE
    return resp


def build(
    methods: dict[str, Method],
    auth: Authenticator,
    origins: OriginPolicy,
    stream_handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    health: Callable[[], Awaitable[str]],
    console_dir: Path | None = None,
) -> web.Application:
    public = ("/console",) if console_dir else ()
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[security_middleware(auth, origins, public)],
    )

    async def healthz(request: web.Request) -> web.Response:
        status = await health()
        return web.json_response({"status": status}, status=200 if status == "SERVING" else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/stream", stream_handler)
    for http_method, route, grpc_path in REST_ROUTES:
        app.router.add_route(http_method, route, _rest_route(methods[grpc_path], http_method))
    app.router.add_post("/{service:kprobe\\.v1\\.[A-Za-z]+}/{method:[A-Za-z]+}", _rpc_route(methods))
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight)
    if console_dir:
        app.router.add_get("/console", _redirect_console)
        app.router.add_get("/console/", _redirect_console)
        app.router.add_static("/console/", console_dir, show_index=False)
    return app


async def _preflight(request: web.Request) -> web.Response:  # answered by the middleware
    return web.Response(status=204)


async def _redirect_console(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/index.html")

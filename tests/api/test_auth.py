"""Auth on (tokens from a file and the environment) with TLS: every gRPC method,
HTTP route and the WebSocket, each tried without, with a wrong and with the
right token."""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess

import grpc
import pytest
import requests
import websockets
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from causal_processor.api import grpcweb, registry
from causal_processor.api.http_app import REST_ROUTES
from kprobe.v1 import causal_graph_pb2
from tests.api import dataset

TOKEN = "s3cret-token-for-tests"
ENV_TOKEN = "second-token-from-env"
WRONG = "wrong-token-value"


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def secured(env, tls, tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(f"# API tokens\n{TOKEN}\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("KPROBE_API_TOKENS", ENV_TOKEN)
    api = env.start_api(auth=True, token_file=str(tokens), tls_cert=tls[0], tls_key=tls[1])
    mp.undo()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def channel(secured, tls):
    with open(tls[0], "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    ch = grpc.secure_channel(f"127.0.0.1:{secured.port}", creds)
    yield ch
    ch.close()


def _grpc_methods():
    for svc in registry.SERVICES:
        for md in svc.methods:
            yield f"/{svc.full_name}/{md.name}", md.server_streaming
    yield "/grpc.health.v1.Health/Check", False


def _meta(token: str | None):
    return None if token is None else (("authorization", f"Bearer {token}"),)


@pytest.mark.parametrize(("path", "streaming"), list(_grpc_methods()), ids=lambda p: str(p))
def test_every_grpc_method(channel, path, streaming):
    ident = lambda b: b  # noqa: E731 - raw bytes: an empty request message
    call = (channel.unary_stream if streaming else channel.unary_unary)(path, ident, ident)
    codes = {}
    for label, token in (("none", None), ("wrong", WRONG), ("right", TOKEN), ("env", ENV_TOKEN)):
        try:
            result = call(b"", metadata=_meta(token), timeout=3)
            if streaming:
                next(iter(result), None)
            codes[label] = grpc.StatusCode.OK
        except grpc.RpcError as e:
            codes[label] = e.code()
    assert codes["none"] == codes["wrong"] == grpc.StatusCode.UNAUTHENTICATED
    assert codes["right"] != grpc.StatusCode.UNAUTHENTICATED and codes["env"] != grpc.StatusCode.UNAUTHENTICATED


def test_reflection_needs_a_token_too(channel):
    ident = lambda b: b  # noqa: E731
    call = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 lambda m: m.SerializeToString(), ident)
    req = reflection_pb2.ServerReflectionRequest(list_services="")
    with pytest.raises(grpc.RpcError) as e:
        list(call(iter([req]), timeout=3))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert list(call(iter([req]), metadata=_meta(TOKEN), timeout=3))
    health = channel.unary_unary("/grpc.health.v1.Health/Check", lambda m: m.SerializeToString(),
                                 health_pb2.HealthCheckResponse.FromString)
    assert health(health_pb2.HealthCheckRequest(), metadata=_meta(TOKEN)).status == health_pb2.HealthCheckResponse.SERVING


def _http_requests():
    for method, route, _ in REST_ROUTES:
        path = route.replace("{transaction_id}", dataset.FAILED).replace("{session_id}", "rs-1")
        yield method, path, {"json": {}} if method == "POST" else {}
    for svc in registry.SERVICES:
        for md in svc.methods:
            if not md.server_streaming:
                yield "POST", f"/{svc.full_name}/{md.name}", {"json": {}}
    yield "GET", "/healthz", {}
    frame = grpcweb.message_frame(causal_graph_pb2.GetRootCauseRequest(transaction_id=dataset.FAILED).SerializeToString())
    yield "POST", "/kprobe.v1.CausalGraphService/GetRootCause", {
        "data": frame, "headers": {"Content-Type": "application/grpc-web+proto"}}


@pytest.mark.parametrize(("method", "path", "kwargs"), list(_http_requests()), ids=lambda p: str(p)[:60])
def test_every_http_route(secured, tls, method, path, kwargs):
    url = f"https://127.0.0.1:{secured.port}{path}"
    statuses = {}
    for label, token in (("none", None), ("wrong", WRONG), ("right", TOKEN)):
        headers = dict(kwargs.get("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        r = requests.request(method, url, verify=tls[0], timeout=30, **{**kwargs, "headers": headers})
        statuses[label] = r.status_code
    assert statuses["none"] == statuses["wrong"] == 401
    assert statuses["right"] != 401


def _client_ssl(tls) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=tls[0])


def test_websocket(secured, tls):
    url = f"wss://127.0.0.1:{secured.port}/stream"

    async def status_of(**kw) -> int | str:
        try:
            async with websockets.connect(url, ssl=_client_ssl(tls), **kw) as ws:
                await ws.send('{"type":"subscribe","filter":{}}')
                assert '"subscribed"' in await ws.recv()
                return ws.subprotocol or "open"
        except websockets.InvalidStatus as e:
            return e.response.status_code

    async def run() -> None:
        assert await status_of() == 401
        assert await status_of(additional_headers={"Authorization": f"Bearer {WRONG}"}) == 401
        assert await status_of(subprotocols=["kprobe.v1", f"bearer.{WRONG}"]) == 401
        assert await status_of(additional_headers={"Authorization": f"Bearer {TOKEN}"}) == "open"
        # browsers cannot set headers on a WebSocket: the token rides in the subprotocol list
        assert await status_of(subprotocols=["kprobe.v1", f"bearer.{TOKEN}"]) == "kprobe.v1"
        assert await status_of(additional_headers={"Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}) == 403

    asyncio.run(run())


def test_rejections_are_logged_without_the_token(secured, tls, caplog):
    with caplog.at_level(logging.WARNING, logger="causal_processor.api"):
        requests.get(f"https://127.0.0.1:{secured.port}/healthz", verify=tls[0], timeout=10,
                     headers={"Authorization": f"Bearer {WRONG}"})
    lines = [r.getMessage() for r in caplog.records if "unauthenticated" in r.getMessage()]
    assert lines and "wrong bearer token" in lines[-1] and "/healthz" in lines[-1]
    assert not any(WRONG in r.getMessage() for r in caplog.records)


def test_auth_without_tokens_refuses_to_start(env, monkeypatch):
    from causal_processor.api.auth import AuthConfigError

    monkeypatch.delenv("KPROBE_API_TOKENS", raising=False)
    with pytest.raises(AuthConfigError, match="no token is configured"):
        env.start_api(auth=True)

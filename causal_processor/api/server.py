"""ApiServer: the gRPC server, the HTTP app and the front listener, started together.

Runs inside an asyncio loop; `kprobe serve` starts it next to the processor
in one process, `kprobe api` on its own against storage servers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2

from . import grpc_server, http_app, registry
from .auth import Authenticator, OriginPolicy, load_tokens
from .backends import Backends
from .config import ApiConfig
from .front import FrontListener, tls_context
from .hub import LiveHub
from .services.causal_graph import CausalGraphApi
from .services.replay import ReplayApi
from .services.search import SearchApi
from .services.timeline import TimelineApi
from .websocket import StreamEndpoint

log = logging.getLogger(__name__)

LiveSubscribe = Callable[[Callable[[str, Sequence[dict[str, Any]]], None]], Callable[[], None]]


class ApiServer:
    def __init__(self, config: ApiConfig, backends: Backends, live: LiveSubscribe | None = None) -> None:
        """`live` is the processor's live hook (`LiveEvents.subscribe`), if in-process."""
        self.config = config
        self.backends = backends
        self._live = live
        self._unsubscribe: Callable[[], None] | None = None
        self.auth = (
            Authenticator.from_tokens(load_tokens(config.token_file)) if config.auth else Authenticator()
        )
        self.port: int | None = None
        self.grpc_port: int | None = None
        self._tmp: str | None = None
        self._grpc: grpc.aio.Server | None = None
        self._runner: web.AppRunner | None = None
        self._front: FrontListener | None = None
        self._replay: ReplayApi | None = None
        self._stream: StreamEndpoint | None = None

    @property
    def grpc_socket(self) -> str:
        assert self._tmp is not None
        return os.path.join(self._tmp, "grpc.sock")

    async def start(self) -> None:
        cfg = self.config
        if self.backends.hub is None:
            self.backends.hub = LiveHub(cfg.ws_buffer)
        hub = self.backends.hub
        if self._live is not None:
            self._unsubscribe = self._live(lambda kind, evs: hub.publish(evs, joined=kind == "joined"))
        self._replay = ReplayApi(self.backends, cfg.replay_limits)
        methods = registry.build([
            CausalGraphApi(self.backends), TimelineApi(self.backends), self._replay, SearchApi(self.backends),
        ])
        self._tmp = tempfile.mkdtemp(prefix="kprobe-api-")
        os.chmod(self._tmp, 0o700)
        self._grpc, health = grpc_server.build(methods, self.auth)
        self._grpc.add_insecure_port(f"unix:{self.grpc_socket}")
        if cfg.grpc_port is not None:
            addr = f"{cfg.host}:{cfg.grpc_port}"
            if cfg.tls_cert:
                creds = grpc.ssl_server_credentials([(_read(cfg.tls_key), _read(cfg.tls_cert))])
                self.grpc_port = self._grpc.add_secure_port(addr, creds)
            else:
                self.grpc_port = self._grpc.add_insecure_port(addr)
        await self._grpc.start()
        for svc in registry.SERVICES:
            await health.set(svc.full_name, health_pb2.HealthCheckResponse.SERVING)
        await health.set("", health_pb2.HealthCheckResponse.SERVING)

        async def healthz() -> str:
            return "SERVING"

        self._stream = StreamEndpoint(hub, cfg.ws_buffer)
        app = http_app.build(
            methods, self.auth, OriginPolicy(frozenset(cfg.allowed_origins)),
            self._stream.handle, healthz, cfg.console(),
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await self._runner.setup()
        ssl_ctx = tls_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert and cfg.tls_key else None
        self._front = FrontListener(self._runner.server, self.grpc_socket, ssl_ctx)
        self.port = await self._front.start(cfg.host, cfg.port)
        scheme = "https" if ssl_ctx else "http"
        log.info("kprobe API on %s://%s:%d (gRPC, gRPC-Web, JSON, WebSocket /stream)%s",
                 scheme, cfg.host, self.port, "; auth on" if self.auth.enabled else "")
        if not self.auth.enabled and cfg.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("the API listens on %s without authentication (use --auth)", cfg.host)

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._front:
            await self._front.stop()
        if self._stream:
            await self._stream.close_all()
        if self._replay:
            await self._replay.close()
        if self._runner:
            await self._runner.cleanup()
        if self._grpc:
            await self._grpc.stop(grace=1.0)
        self.backends.executor.shutdown(wait=False, cancel_futures=True)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _read(path: str | None) -> bytes:
    assert path is not None
    with open(path, "rb") as f:
        return f.read()


class ServerThread:
    """An ApiServer on an event loop of its own thread, for callers that are not
    asyncio programs (`kprobe demo`, tests, benchmarks)."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kprobe-api", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=30)
        return self

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

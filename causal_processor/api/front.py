"""The listener on :8080 that gives gRPC and HTTP/1.1 one port.

grpcio cannot share a socket with aiohttp, so each accepted connection is
classified by its first bytes: the HTTP/2 client preface means gRPC and the
connection is spliced to the grpcio server on a private unix socket;
anything else is handed, in place and without copying, to aiohttp's
protocol (the asyncio transport switches protocol; no second hop). With TLS
the front terminates it for both; ALPN prefers http/1.1 for clients that
offer it unless they also offer gRPC's own "grpc-exp", so browsers keep
HTTP/1.1 (gRPC-Web, WebSocket) while gRPC clients get HTTP/2.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

log = logging.getLogger(__name__)

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ALPN_PROTOCOLS = ["grpc-exp", "http/1.1", "h2"]


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.set_alpn_protocols(ALPN_PROTOCOLS)
    return ctx


class _Pipe(asyncio.Protocol):
    """Copies what its own transport receives to the peer, with backpressure both ways."""

    def __init__(self, peer: asyncio.Transport) -> None:
        self.peer = peer

    def data_received(self, data: bytes) -> None:
        self.peer.write(data)

    def eof_received(self) -> bool:
        self.peer.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer.close()

    def pause_writing(self) -> None:
        self.peer.pause_reading()

    def resume_writing(self) -> None:
        self.peer.resume_reading()


class _Sniffer(asyncio.Protocol):
    """Reads just enough of a new connection to tell HTTP/2 from HTTP/1.1."""

    def __init__(self, front: FrontListener) -> None:
        self.front = front
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        n = min(len(self.buf), len(H2_PREFACE))
        if self.buf[:n] != H2_PREFACE[:n]:
            self._to_http()
        elif n == len(H2_PREFACE):
            self._to_grpc()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _to_http(self) -> None:
        assert self.transport is not None
        proto = self.front.http_protocol()
        self.transport.set_protocol(proto)
        proto.connection_made(self.transport)
        proto.data_received(bytes(self.buf))

    def _to_grpc(self) -> None:
        assert self.transport is not None
        down = self.transport
        down.pause_reading()
        task = asyncio.get_running_loop().create_task(self._splice(down, bytes(self.buf)))
        self.front.track(task)

    async def _splice(self, down: asyncio.Transport, first: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            up, _ = await loop.create_unix_connection(lambda: _Pipe(down), self.front.grpc_socket)
        except OSError as e:
            log.error("gRPC backend %s unreachable: %s", self.front.grpc_socket, e)
            down.close()
            return
        if down.is_closing():
            up.close()
            return
        down.set_protocol(_Pipe(up))
        up.write(first)
        down.resume_reading()


class FrontListener:
    """Accepts on the public port and dispatches each connection."""

    def __init__(
        self,
        http_protocol: Callable[[], asyncio.Protocol],
        grpc_socket: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.http_protocol = http_protocol
        self.grpc_socket = grpc_socket
        self._ssl = ssl_context
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    def track(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Sniffer(self), host, port, ssl=self._ssl, reuse_address=True, backlog=1024
        )
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()

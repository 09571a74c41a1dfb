"""WebSocket /stream: live events as JSON, per the seeds' subscribe message.

Client: {"type":"subscribe","filter":{...EventFilter JSON...}} (again to
change it). Server: "subscribed", "event" (with a per-subscription
`sequence`), "dropped" (count + first_sequence of what its full buffer lost)
and "error". One writer task per client drains its own bounded buffer, so a
slow socket only ever stalls itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMsgType, web
from google.protobuf import json_format

from kprobe.v1 import api_common_pb2

from .auth import WS_PROTOCOL
from .errors import ApiError, invalid_argument
from .filters import compile_filter
from .hub import Dropped, LiveHub, Subscription

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
SOCKET_BUFFER = 256 * 1024  # per-client kernel send buffer (bytes)


def parse_subscribe(raw: str) -> api_common_pb2.EventFilter:
    """The EventFilter of a subscribe message; ApiError(INVALID_ARGUMENT) otherwise."""
    try:
        msg = json.loads(raw)
    except ValueError:
        raise invalid_argument("message is not JSON") from None
    if not isinstance(msg, dict) or msg.get("type") != "subscribe":
        raise invalid_argument('expected {"type":"subscribe","filter":{...}}')
    flt = api_common_pb2.EventFilter()
    try:
        json_format.ParseDict(msg.get("filter") or {}, flt)
    except json_format.ParseError as e:
        raise invalid_argument(f"filter: {e}") from None
    return flt


def _encode(rec: tuple[int, object] | Dropped) -> str:
    if isinstance(rec, Dropped):
        return f'{{"type":"dropped","count":{rec.count},"first_sequence":{rec.first_sequence}}}'
    seq, item = rec
    return f'{{"type":"event","sequence":{seq},"event":{item.json}}}'  # type: ignore[attr-defined]


@dataclass
class _Client:
    """One connection's current subscription and the task writing it out."""

    subscription: Subscription | None = None
    writer: asyncio.Task | None = None


class StreamEndpoint:
    """aiohttp handler for /stream, bound to the hub."""

    def __init__(self, hub: LiveHub, buffer: int | None = None, socket_buffer: int = SOCKET_BUFFER) -> None:
        self._hub = hub
        self._buffer = buffer
        self._socket_buffer = socket_buffer
        self._open: set[web.WebSocketResponse] = set()

    async def close_all(self) -> None:
        """Say goodbye (1001 going away) to every client; the server is stopping."""
        for ws in list(self._open):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping"), 2)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        # no permessage-deflate: compressing every event once per subscriber costs
        # more CPU than the bytes it saves on the networks this runs on
        ws = web.WebSocketResponse(protocols=(WS_PROTOCOL,), heartbeat=HEARTBEAT_S, max_msg_size=1 << 20, compress=False)
        await ws.prepare(request)
        self._cap_kernel_buffer(request)
        self._open.add(ws)
        client = _Client()
        try:
            await self._serve(ws, client)
        except ConnectionResetError:  # the client went away mid-frame (e.g. its ping timed out)
            log.debug("WebSocket client %s went away", request.remote)
        finally:
            await self._drop_subscription(client)
            self._open.discard(ws)
        return ws

    async def _drop_subscription(self, client: _Client) -> None:
        if client.writer is not None:
            client.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.writer
            client.writer = None
        if client.subscription is not None:
            self._hub.unsubscribe(client.subscription)
            client.subscription = None

    async def _serve(self, ws: web.WebSocketResponse, client: _Client) -> None:
        """Handle subscribe messages until the client closes."""
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await ws.send_str(json.dumps({"type": "error", "message": "send text (JSON) frames"}))
                continue
            try:
                filter_msg = parse_subscribe(msg.data)
                flt = compile_filter(filter_msg)
            except ApiError as e:
                await ws.send_str(json.dumps({"type": "error", "message": e.message}))
                continue
            await self._drop_subscription(client)
            client.subscription = self._hub.subscribe(flt, self._buffer)
            ack = {
                "type": "subscribed",
                "subscription": client.subscription.id,
                "filter": json_format.MessageToDict(filter_msg, preserving_proto_field_name=True),
            }
            await ws.send_str(json.dumps(ack))
            client.writer = asyncio.create_task(self._pump(ws, client.subscription))

    def _cap_kernel_buffer(self, request: web.Request) -> None:
        """Bound what the kernel queues for this client too: left to autotuning
        a stalled client could park megabytes in the socket instead of
        getting `dropped` messages."""
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None and self._socket_buffer:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._socket_buffer)

    @staticmethod
    async def _pump(ws: web.WebSocketResponse, sub: Subscription) -> None:
        try:
            while not ws.closed:
                batch = await sub.next_batch()
                if not batch:
                    return
                for rec in batch:
                    await ws.send_str(_encode(rec))
        except ConnectionResetError:
            return

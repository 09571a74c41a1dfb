"""WebSocket /stream with a real client (the `websockets` package)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
import websockets

from kprobe import events
from tests.api import dataset
from tests.api.conftest import settle, wait_for

MS = 1_000_000


async def _subscribe(ws, flt: dict) -> dict:
    await ws.send(json.dumps({"type": "subscribe", "filter": flt}))
    ack = json.loads(await ws.recv())
    assert ack["type"] == "subscribed"
    return ack


async def _collect(ws, n: int, timeout: float = 20.0) -> list[dict]:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        out.append(json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic())))
    return out


async def _quiet(ws, seconds: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        extra = await asyncio.wait_for(ws.recv(), seconds)
        pytest.fail(f"unexpected message {extra}")


def test_subscription_filters_are_exact(env):
    """Type filters get events as stored; service filters get them as joined."""

    async def run() -> None:
        url = f"ws://127.0.0.1:{env.port}/stream"
        async with websockets.connect(url) as by_type, websockets.connect(url) as by_service, \
                websockets.connect(url) as both:
            await _subscribe(by_type, {"event_types": ["SyscallWrite", "MemoryReclaim"]})
            await _subscribe(by_service, {"services": ["settlement-svc"]})
            ack = await _subscribe(both, {"event_types": ["TCPSend"], "services": ["payment-handler"]})
            assert ack["filter"] == {"event_types": ["TCPSend"], "services": ["payment-handler"]}
            t0 = time.time_ns() - 5000 * MS
            sent = await asyncio.to_thread(dataset.send_payment, env.running.grpc_port, "pay-ws", t0, 800.0, 40003)
            await asyncio.to_thread(wait_for, lambda: env.store.transaction("pay-ws"))
            await asyncio.to_thread(settle, env.store, ["pay-ws"])  # late kernel events join a tick later
            joined = env.store.transaction_events("pay-ws")
            ctx = {e["event_id"]: e["financial_context"] for e in joined}
            want_type = [e["event_id"] for e in sent if e["event_type"] in ("SyscallWrite", "MemoryReclaim")]
            want_service = sorted(k for k, c in ctx.items() if c["service"] == "settlement-svc")
            want_both = sorted(e["event_id"] for e in sent
                               if e["event_type"] == "TCPSend" and ctx.get(e["event_id"], {}).get("service") == "payment-handler")
            assert want_type and want_service and want_both
            got = await _collect(by_type, len(want_type))
            assert [int(m["event"]["event_id"]) for m in got] == want_type
            assert [m["sequence"] for m in got] == list(range(1, len(want_type) + 1))
            got = await _collect(by_service, len(want_service))
            assert sorted(int(m["event"]["event_id"]) for m in got) == want_service
            assert all(m["event"]["financial_context"]["service"] == "settlement-svc" for m in got)
            got = await _collect(both, len(want_both))
            assert sorted(int(m["event"]["event_id"]) for m in got) == want_both
            await asyncio.gather(_quiet(by_type), _quiet(by_service), _quiet(both))

    asyncio.run(run())


def test_resubscribe_and_bad_messages(env):
    async def run() -> None:
        async with websockets.connect(f"ws://127.0.0.1:{env.port}/stream") as ws:
            await ws.send("not json")
            assert json.loads(await ws.recv()) == {"type": "error", "message": "message is not JSON"}
            await ws.send(json.dumps({"type": "subscribe", "filter": {"event_types": ["Teleport"]}}))
            err = json.loads(await ws.recv())
            assert err["type"] == "error" and "Teleport" in err["message"]
            first = await _subscribe(ws, {"event_types": ["PageFault"], "pids": [7101]})
            hub = env.api.server.backends.hub
            now = time.time_ns()
            hub.publish([events.make_event("PageFault", pid=7101, tid=1, timestamp_ns=now + i) for i in range(3)])
            assert [m["sequence"] for m in await _collect(ws, 3)] == [1, 2, 3]
            second = await _subscribe(ws, {"event_types": ["SyscallRead"], "pids": [7101]})
            assert second["subscription"] != first["subscription"]
            hub.publish([events.make_event("PageFault", pid=7101, tid=1, timestamp_ns=now + 10)]
                        + [events.make_event("SyscallRead", pid=7101, tid=1, timestamp_ns=now + 20 + i) for i in range(2)])
            got = await _collect(ws, 2)
            assert [(m["event"]["event_type"], m["sequence"]) for m in got] == [("SyscallRead", 1), ("SyscallRead", 2)]
            await _quiet(ws, 0.3)

    asyncio.run(run())


async def _account(ws, total: int) -> tuple[int, int]:
    """Read until `total` sequences are accounted for, checking there is no
    gap a `dropped` message does not announce; (delivered, dropped)."""
    seen = delivered = dropped = 0
    while seen < total:
        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if m["type"] == "dropped":
            assert m["first_sequence"] == seen + 1
            seen += m["count"]
            dropped += m["count"]
        else:
            assert m["type"] == "event" and m["sequence"] == seen + 1
            seen += 1
            delivered += 1
    return delivered, dropped


def _tiny_socket(port: int) -> socket.socket:
    """A client socket with a 4 KiB receive buffer, so a client that stops
    reading fills its server-side buffer quickly."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    return s


def test_slow_subscriber_gets_dropped_counts_and_never_slows_others(env):
    """10k events at ~5k/s, buffer 1024: the fast client gets every one in
    order; the client that stopped reading gets events + `dropped` messages
    that add up exactly, and the publisher never waits for it."""
    api = env.start_api(ws_buffer=1024)
    total = 10_000
    try:
        async def run() -> None:
            url = f"ws://127.0.0.1:{api.port}/stream"
            flt = {"event_types": ["SyscallWrite"], "pids": [7201]}
            async with websockets.connect(url) as fast, websockets.connect(url, max_queue=1, sock=_tiny_socket(api.port)) as slow:
                await _subscribe(fast, flt)
                await _subscribe(slow, flt)
                slow.transport.pause_reading()  # a stalled consumer: its TCP window closes
                hub = api.server.backends.hub
                now = time.time_ns()
                evs = [events.make_event("SyscallWrite", pid=7201, tid=1, timestamp_ns=now + i, fd=1, bytes=i, ret=i)
                       for i in range(total)]

                publish_s: list[float] = []

                def publish() -> None:  # as the processor's writer thread does, in batches
                    for i in range(0, total, 100):
                        t = time.perf_counter()
                        hub.publish(evs[i:i + 100])
                        publish_s.append(time.perf_counter() - t)
                        time.sleep(0.02)

                publisher = threading.Thread(target=publish)
                t_start = time.monotonic()
                publisher.start()
                fast_delivered, fast_dropped = await _account(fast, total)
                fast_s = time.monotonic() - t_start
                publisher.join()
                assert (fast_delivered, fast_dropped) == (total, 0)
                slow.transport.resume_reading()
                delivered, dropped = await _account(slow, total)
                assert delivered + dropped == total and dropped > 0 and delivered > 0
                assert max(publish_s) < 0.5  # publishing 100 events never blocked on the stalled client
                print(f"fast subscriber: {total} events in {fast_s:.2f} s; slow one: {delivered} delivered, {dropped} dropped")

        asyncio.run(run())
    finally:
        api.stop()

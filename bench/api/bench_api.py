"""Load test of the kprobe API on loopback, bounded in time.

    .venv/bin/python bench/api/bench_api.py [--seconds 5] [--concurrency 4] [--subscribers 100]

Server: processor (chdb) + API in this process, fed through OTLP with the
tests' payment incident (tests/api/dataset.py). Clients run in separate
processes (spawned), so they do not share the server's interpreter.

1. Causal graph queries: GetCausalGraph of the failed payment over gRPC
   through the :8080 front listener, over gRPC on a direct port (the
   front's cost), and as JSON over HTTP; baseline: the same graph built by
   the engine in-process (explain + conversion, no transport).
2. WebSocket fan-out: N events published as the processor publishes them
   (batches, from a writer thread) to 100 subscribers, with and without
   one subscriber that stops reading; events/s delivered per subscriber,
   and the ratio with/without the stalled one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _log(msg: str) -> None:
    print(f"[bench_api {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _percentiles(lat: list[float]) -> dict[str, float]:
    lat = sorted(lat)
    if not lat:
        return {"n": 0}
    return {"n": len(lat), "p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3}


# ---- clients (run in spawned processes) ------------------------------------------

def grpc_client(port: int, txn: str, seconds: float) -> list[float]:
    import grpc

    from kprobe.v1 import causal_graph_pb2, causal_graph_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = causal_graph_pb2_grpc.CausalGraphServiceStub(ch)
        req = causal_graph_pb2.GetCausalGraphRequest(transaction_id=txn)
        stub.GetCausalGraph(req)  # connect + warm up
        lat = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            stub.GetCausalGraph(req)
            lat.append(time.perf_counter() - t)
    return lat


def http_client(port: int, txn: str, seconds: float) -> list[float]:
    import requests

    s = requests.Session()
    url = f"http://127.0.0.1:{port}/api/v1/transactions/{txn}/graph"
    s.get(url).raise_for_status()
    lat = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        s.get(url).raise_for_status()
        lat.append(time.perf_counter() - t)
    return lat


def ws_clients(port: int, n: int, total: int, stalled: bool, ready: mp.Event, timeout: float) -> list[dict]:
    """n subscribers in one process; each counts events and announced drops
    until `total` sequences are accounted for. A stalled one stops reading."""
    import websockets

    async def one() -> dict:
        sock = None
        if stalled:  # a small receive window, so the stall reaches the server quickly
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
        async with websockets.connect(f"ws://127.0.0.1:{port}/stream", max_queue=None, compression=None,
                                      ping_interval=None, sock=sock) as ws:
            await ws.send(json.dumps({"type": "subscribe", "filter": {"event_types": ["SyscallWrite"]}}))
            await ws.recv()
            return await count(ws)

    async def count(ws) -> dict:
        seen = delivered = dropped = 0
        first = last = 0.0
        if stalled:  # stop reading, keep the connection open
            ws.transport.pause_reading()
            await asyncio.sleep(timeout)
            return {"stalled": True}
        deadline = time.monotonic() + timeout
        while seen < total and time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            now = time.perf_counter()
            first = first or now
            last = now
            if raw.startswith('{"type":"dropped"'):
                c = json.loads(raw)["count"]
                seen += c
                dropped += c
            else:
                seen += 1
                delivered += 1
        return {"delivered": delivered, "dropped": dropped, "seconds": last - first}

    async def main() -> list[dict]:
        tasks = [asyncio.create_task(one()) for _ in range(n)]
        await asyncio.sleep(1.0)
        ready.set()
        return await asyncio.gather(*tasks)

    return asyncio.run(main())


# ---- server side ---------------------------------------------------------------------

def start_server(tmp: str, ws_buffer: int):
    from causal_processor import server as processor_server
    from causal_processor.api.config import ApiConfig
    from causal_processor.api.server import ApiServer, ServerThread
    from causal_processor.api.wiring import backends_for
    from causal_processor.config import local
    from causal_processor.graphstore import open_graph_store
    from tests.api import dataset

    running = processor_server.start(local(f"chdb://{tmp}/ch?database=bench"))
    p = running.processor
    graphs = open_graph_store("memory://")
    api = ServerThread(ApiServer(ApiConfig(port=0, grpc_port=0, ws_buffer=ws_buffer), backends_for(p.store, graphs),
                                 live=p.live.subscribe)).start()
    incident = dataset.send(running.grpc_port)
    deadline = time.monotonic() + 30
    while not all(p.store.transaction(t) for t in incident.transactions):
        if time.monotonic() > deadline:
            raise SystemExit("the incident was not joined in 30 s")
        time.sleep(0.1)
    time.sleep(0.5)
    return running, api, graphs


def _in_process(fn, seconds: float, threads: int) -> dict:
    """The same work at the same concurrency, in threads of this process, no transport."""
    lat: list[float] = []

    def loop() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {**_percentiles(lat), "qps": len(lat) / seconds}


def bench_graph(api, seconds: float, concurrency: int) -> dict:
    """Cold: every query rebuilds the graph (cache off). Warm: the API's graph cache.
    Baselines run in-process: the same work without any transport."""
    from tests.api import dataset

    analyzer = api.server.backends.analyzer
    txn = dataset.FAILED
    out: dict[str, dict] = {}
    ctx = mp.get_context("spawn")
    with ctx.Pool(concurrency) as pool:
        for mode, ttl in (("cold", 0.0), ("warm", 3600.0)):
            analyzer.cache.ttl_s = ttl
            res = {"baseline_in_process": _in_process(
                lambda: analyzer.causal_graph(txn).SerializeToString(), seconds, concurrency)}
            _log(f"{mode} baseline: {res['baseline_in_process']}")
            for name, fn, port in (("grpc_front_8080", grpc_client, api.port),
                                   ("grpc_direct_port", grpc_client, api.server.grpc_port),
                                   ("json_http_8080", http_client, api.port)):
                results = pool.starmap(fn, [(port, txn, seconds)] * concurrency)
                lat = [x for r in results for x in r]
                res[name] = {**_percentiles(lat), "qps": len(lat) / seconds}
                _log(f"{mode} {name}: {res[name]}")
            out[mode] = res
    analyzer.cache.ttl_s = 5.0
    return out


def bench_ws(api, subscribers: int, total: int, with_stalled: bool, rate: int) -> dict:
    from kprobe import events

    hub = api.server.backends.hub
    ctx = mp.get_context("spawn")
    procs = 2
    per = subscribers // procs
    manager = ctx.Manager()
    ready = [manager.Event() for _ in range(procs + 1)]
    with manager, ctx.Pool(procs + 1) as pool:
        jobs = [pool.apply_async(ws_clients, (api.port, per, total, False, ready[i], 120.0)) for i in range(procs)]
        stalled_for = total / rate + 30  # stays connected (not reading) until publishing is over
        stalled_job = (pool.apply_async(ws_clients, (api.port, 1, total, True, ready[procs], stalled_for))
                       if with_stalled else None)
        for r in ready[: procs + (1 if with_stalled else 0)]:
            r.wait(60)
        want = subscribers + (1 if with_stalled else 0)
        deadline = time.monotonic() + 60
        while hub.subscribers < want:
            failed = [j for j in jobs if j.ready() and not j.successful()]
            if failed:
                failed[0].get()
            if time.monotonic() > deadline:
                raise SystemExit(f"only {hub.subscribers} of {want} subscribers connected in 60 s")
            time.sleep(0.05)
        _log(f"{hub.subscribers} subscribers connected")
        now = time.time_ns()
        evs = [events.make_event("SyscallWrite", pid=9001, tid=9002, timestamp_ns=now + i, fd=5, bytes=512, ret=512)
               for i in range(total)]
        batch = 200
        publish_s: list[float] = []

        def publish() -> None:
            t_next = time.perf_counter()
            for i in range(0, total, batch):
                t = time.perf_counter()
                hub.publish(evs[i:i + batch])
                publish_s.append(time.perf_counter() - t)
                t_next += batch / rate
                time.sleep(max(0.0, t_next - time.perf_counter()))

        t0 = time.perf_counter()
        th = threading.Thread(target=publish)
        th.start()
        th.join()
        publish_elapsed = time.perf_counter() - t0
        stats = hub.stats()  # the stalled one is still connected; fast ones may have finished
        least = min(stats, key=lambda st: st["delivered"]) if stats else None
        fast = [r for j in jobs for r in j.get(180)]
        if stalled_job is not None:
            stalled_job.get(stalled_for + 30)
    per_sub = [r["delivered"] / r["seconds"] for r in fast if r["seconds"] > 0]
    return {
        "subscribers": len(fast), "events": total, "offered_rate": rate, "publish_seconds": publish_elapsed,
        "delivered_min": min(r["delivered"] for r in fast), "dropped_max": max(r["dropped"] for r in fast),
        "dropped_total": sum(r["dropped"] for r in fast),
        "per_subscriber_events_s_median": statistics.median(per_sub) if per_sub else 0.0,
        "aggregate_events_s": sum(r["delivered"] for r in fast) / max(r["seconds"] for r in fast),
        "publish_batch_max_ms": max(publish_s) * 1e3,
        "least_served_subscription_server_side": least,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--rate", type=int, default=1000, help="events/s offered to the WebSocket hub")
    ap.add_argument("--ws-buffer", type=int, default=4096, help="events buffered per subscriber")
    ap.add_argument("--only", choices=["graph", "ws"], help="run one part")
    args = ap.parse_args()
    os.environ.setdefault("OTEL_SDK_DISABLED", "false")
    with tempfile.TemporaryDirectory(prefix="kprobe-bench-api-") as tmp:
        running, api, graphs = start_server(tmp, args.ws_buffer)
        _log("server up, incident joined")
        try:
            out = {"host": {"cpus": os.cpu_count(), "load1": os.getloadavg()[0], "hostname": socket.gethostname()}}
            if args.only in (None, "graph"):
                out["graph_queries"] = bench_graph(api, args.seconds, args.concurrency)
            if args.only in (None, "ws"):
                out["websocket"] = {}
                for name, stalled in (("without_stalled", False), ("with_stalled", True)):
                    out["websocket"][name] = bench_ws(api, args.subscribers, args.events, stalled, args.rate)
                    _log(f"websocket {name}: {out['websocket'][name]}")
            print(json.dumps(out, indent=2))
        finally:
            api.stop()
            running.stop(flush=False)
            running.processor.store.close()
            graphs.close()


if __name__ == "__main__":
    main()

"""OTLP kernel spans ingested and stored per core, beside a plain clickhouse-connect loop.

    .venv/bin/python bench/processor/bench_ingest.py [--spans 200000] [--batch 2000]

Ours: pre-serialized ExportTraceServiceRequests (the receiver's output) sent over
OTLP/gRPC by 4 client threads to a processor on chdb; the clock stops once every span is
stored in kernel_events (a request is acknowledged earlier, once it is in the write-ahead
log). Baseline, same process and run: the same events as Python
rows inserted into a plain MergeTree table by clickhouse-connect in the same batch size
(no OTLP, no decode, no join). Reported per CPU-second of the whole process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

import grpc

from causal_processor import server
from causal_processor.config import ProcessorConfig
from causal_processor.storage import schema
from causal_processor.storage.clickhouse import connect
from kprobe import events, otlp

TYPES = ("SyscallWrite", "SyscallRead", "TCPSend", "TCPRecv", "SchedSwitch", "PageFault")


def make_events(n: int) -> list[dict]:
    t0 = time.time_ns()
    out = []
    for i in range(n):
        et = TYPES[i % len(TYPES)]
        kw: dict = {}
        if et.startswith("Syscall"):
            kw = {"fd": 5, "bytes": 100, "ret": 100}
        elif et.startswith("TCP"):
            kw = {"fd": 6, "bytes": 200, "ret": 200, "saddr": "10.0.0.1", "sport": 8080,
                  "daddr": "10.0.0.2", "dport": 40000 + i % 1000}
        elif et == "SchedSwitch":
            kw = {"off_cpu_reason": "BLOCKED", "waker_pid": 1, "waker_tid": 1}
        else:
            kw = {"address": 4096 * i}
        out.append(events.make_event(et, pid=1000 + i % 8, tid=2000 + i % 64, cpu=i % 2,
                                     timestamp_ns=t0 + i * 1000, duration_ns=500, comm="worker", **kw))
    return out


def run_ours(dsn: str, reqs: list[bytes], n_spans: int) -> dict:
    cfg = ProcessorConfig()
    cfg.storage.dsn = dsn
    cfg.otlp.grpc_endpoint = "127.0.0.1:0"
    cfg.otlp.http_endpoint = ""
    cfg.otlp.max_request_bytes = 64 * 1024 * 1024
    running = server.start(cfg)
    raw = grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}",
                                options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
    export = raw.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    export(reqs[0])  # warm up (not counted)
    work = list(reqs[1:])
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if not work:
                    return
                body = work.pop()
            export(body, timeout=120)

    cpu0, t0 = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = running.processor.metrics.events_stored
    while stored._value.get() < n_spans:  # acknowledged = logged; the clock stops once all are stored
        time.sleep(0.002)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    running.stop(flush=False)
    counted = n_spans - n_spans // len(reqs)
    return {"spans": counted, "wall_s": wall, "cpu_s": cpu, "spans_per_cpu_s": counted / cpu,
            "spans_per_wall_s": counted / wall}


def run_baseline(dsn: str, evs: list[dict], batch: int) -> dict:
    client = connect(dsn)
    cols = [n for n, _ in schema.EVENT_COLUMNS[: len(events.EVENT_FIELDS)]]
    client.command("DROP TABLE IF EXISTS baseline_events")
    client.command("CREATE TABLE baseline_events ({}) ENGINE = MergeTree ORDER BY (pid, timestamp_ns)".format(
        ", ".join(f"`{n}` {t}" for n, t in schema.EVENT_COLUMNS[: len(events.EVENT_FIELDS)])))
    zero = {"int": 0, "uint": 0, "float": 0.0, "bool": False, "str": "", "enum": ""}
    defaults = {f.name: zero[f.kind] for f in events.EVENT_FIELDS}
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(evs), batch):
        rows = [[e.get(c, defaults[c]) for c in cols] for e in evs[i:i + batch]]
        client.insert("baseline_events", rows, column_names=cols)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    assert client.query("SELECT count() FROM baseline_events").result_rows[0][0] == len(evs)
    return {"spans": len(evs), "wall_s": wall, "cpu_s": cpu, "spans_per_cpu_s": len(evs) / cpu,
            "spans_per_wall_s": len(evs) / wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    data_dir = a.dir or tempfile.mkdtemp(prefix="kprobe-bench-")
    evs = make_events(a.spans)
    res = {pid: otlp.process_resource(pid, "worker", service="payments") for pid in range(1000, 1008)}
    reqs = [otlp.events_to_request(evs[i:i + a.batch], res).SerializeToString()
            for i in range(0, len(evs), a.batch)]
    ours = run_ours(f"chdb://{data_dir}?database=bench_ours", reqs, a.spans)
    base = run_baseline(f"chdb://{data_dir}?database=bench_base", evs, a.batch)
    out = {"cpus": os.cpu_count(), "batch": a.batch, "ours": ours, "baseline": base,
           "ratio_per_cpu": ours["spans_per_cpu_s"] / base["spans_per_cpu_s"]}
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

"""Real capture of a thread-per-connection payment service, joined by a real processor.

The service uses only standard OTel setup (SDK, OTLP/gRPC exporter, WSGI middleware).
The receiver's Capture records its kernel events and its OtlpExporter sends them to the
processor as OTLP kernel spans, while capturing ("streaming") or only after the
service's spans went through the join ("kernel_late"). Ground truth comes from the
service itself: the kernel thread id that served each payment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from causal_processor import config, server

pytestmark = pytest.mark.ebpf
APP = Path(__file__).parent / "apps" / "threaded_payments.py"
TYPES = ["SyscallWrite", "SyscallRead", "TCPRecv", "TCPSend", "SchedSwitch", "PageFault"]
PAYMENTS = 24


def _receiver():
    if os.geteuid() != 0:
        pytest.skip("eBPF capture needs root (CAP_BPF + CAP_PERFMON)")
    from collector_receiver.capture import Capture
    from collector_receiver.exporter import OtlpExporter

    return Capture, OtlpExporter


def _pay(port: int, i: int, ledger: bool = False) -> dict:
    extra = "&ledger=1" if ledger else ""
    r = requests.get(f"http://127.0.0.1:{port}/pay?id=pay-{i}&writes={2 + i % 4}{extra}", timeout=30)
    r.raise_for_status()
    return r.json()


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


@pytest.mark.parametrize("arrival", ["streaming", "kernel_late"])
def test_concurrent_payments_each_get_exactly_their_kernel_events(dsn, arrival):
    Capture, OtlpExporter = _receiver()
    running = server.start(config.local(dsn, window_s=0.3, idle_flush_s=0.5))
    store = running.processor.store
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{running.grpc_port}",
               OTEL_EXPORTER_OTLP_INSECURE="true")
    app = subprocess.Popen([sys.executable, str(APP), "threading"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, env=env)
    try:
        port = int(app.stdout.readline())
        exporter = OtlpExporter(endpoint=f"http://127.0.0.1:{running.grpc_port}", protocol="grpc")
        streaming = arrival == "streaming"
        with Capture(pids=[app.pid], types=TYPES, exporter=exporter if streaming else None) as cap:
            with ThreadPoolExecutor(8) as pool:
                truth = {t["payment"]: t for t in pool.map(lambda i: _pay(port, i), range(PAYMENTS))}
            time.sleep(0.2)
        app.stdin.close()
        assert app.wait(30) == 0
        assert len({t["tid"] for t in truth.values()}) > 1  # really served by several threads

        # every payment's spans arrived and were processed without kernel data (kernel_late)
        assert _wait(lambda: len(store.find_transactions(service="payments", limit=1000)) == PAYMENTS, 60)
        if arrival == "kernel_late":
            time.sleep(1.0)  # well past the 0.3 s window: the spans are already through the join
            assert store.transaction_events("pay-0") == []
            exporter.export_events(cap.events, cap.resources)
        assert exporter.flush(30)
        captured = cap.events
        assert exporter.sent_spans == len(captured) and exporter.dropped_spans == 0
        exporter.shutdown()
        if streaming:  # the receiver's own OTLP metrics (lost events) are stored too
            lost = store.client.query("SELECT Value FROM otel_metrics_sum WHERE MetricName = "
                                      "'kprobe.receiver.lost_events'").result_rows
            assert lost == [(float(cap.stats.lost_events),)]

        def done() -> bool:
            return all(len([e for e in store.transaction_events(p) if e["event_type"] == "SyscallWrite"])
                       == 2 + int(p.split("-")[1]) % 4 for p in truth)

        assert _wait(done, 60)
        joined_anywhere, ahead, behind = {}, [], []
        for p, t in truth.items():
            evs = store.transaction_events(p)
            # exactly the payment's writes: count and sizes known by construction
            writes = [e for e in evs if e["event_type"] == "SyscallWrite"]
            assert sorted(e["bytes"] for e in writes) == [1000 + k for k in range(2 + int(p[4:]) % 4)]
            # 0 wrong joins: every joined event ran on the thread that served the payment
            assert {e["tid"] for e in evs} == {t["tid"]}
            assert {e["pid"] for e in evs} == {app.pid}
            # the request's receive on that thread is part of it, found by the client port
            assert any(e["event_type"] == "TCPRecv" and e["dport"] == t["client_port"] for e in evs)
            ctx = evs[0]["financial_context"]
            assert ctx["service"] == "payments" and ctx["join_method"] in ("server_recv", "parent_thread")
            # exact set: all captured events of that thread from the request's receive to span end
            root = next(s for s in store.trace_spans(ctx["trace_id"]) if s.kind == "Server")
            first_recv = min(e["timestamp_ns"] for e in evs if e["event_type"] == "TCPRecv")
            expect = {e["event_id"] for e in captured if e["tid"] == t["tid"]
                      and first_recv <= e["timestamp_ns"] <= root.start_ns + root.duration_ns}
            assert {e["event_id"] for e in evs} == expect
            for e in evs:
                joined_anywhere[e["event_id"]] = p
            # clock domains: each write(2) in kernel time (monotonic, converted by the receiver)
            # lies between the app's time.time_ns() just before and just after it when the
            # clocks agree; the tightest brackets bound the skew from both sides
            for w, (before, after) in zip(sorted(writes, key=lambda e: e["timestamp_ns"]),
                                          t["write_ns"], strict=True):
                ahead.append(w["timestamp_ns"] - before)
                behind.append(after - (w["timestamp_ns"] + w["duration_ns"]))
        assert len(joined_anywhere) == sum(len(store.transaction_events(p)) for p in truth)
        # kernel clock - app clock lies in [-min(behind), min(ahead)]
        print(f"clock skew over {len(ahead)} writes: kernel - app in [{-min(behind)}, {min(ahead)}] ns")
        assert min(ahead) >= 0 and min(behind) >= 0  # no write seen outside its app bracket
        assert min(ahead) < 100_000 and min(behind) < 100_000
    finally:
        if app.poll() is None:
            app.kill()
        running.stop()


def test_event_loop_server_workers_found_and_no_wrong_join(dsn):
    """waitress: one loop thread receives every request, workers run them. The worker is
    found from the span's own client call (its connection's local port, named by the
    callee's SERVER span) or from the loop's wake-up; nothing lands on a wrong thread."""
    Capture, OtlpExporter = _receiver()
    running = server.start(config.local(dsn, window_s=0.3, idle_flush_s=0.5))
    store = running.processor.store
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{running.grpc_port}",
               OTEL_EXPORTER_OTLP_INSECURE="true")
    app = subprocess.Popen([sys.executable, str(APP), "waitress"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, env=env)
    try:
        port = int(app.stdout.readline())
        exporter = OtlpExporter(endpoint=f"http://127.0.0.1:{running.grpc_port}", protocol="grpc")
        with Capture(pids=[app.pid], types=TYPES, exporter=exporter):
            with ThreadPoolExecutor(6) as pool:
                truth = {t["payment"]: t for t in pool.map(lambda i: _pay(port, i, ledger=True), range(18))}
            time.sleep(0.2)
        app.stdin.close()
        assert app.wait(30) == 0
        assert exporter.flush(30)
        exporter.shutdown()
        assert _wait(lambda: len(store.find_transactions(service="payments", limit=1000)) == 18, 60)

        def writes(p: str) -> list[int]:
            return sorted(e["bytes"] for e in store.transaction_events(p)
                          if e["event_type"] == "SyscallWrite" and e["bytes"] != 777)

        # the payment's own work: exact, through its client call's connection
        assert _wait(lambda: all(writes(p) == [1000 + k for k in range(2 + int(p[4:]) % 4)] for p in truth), 60)
        time.sleep(1.0)  # let the last join steps (wake-up evidence) run
        ledger_joined = 0
        for p, t in truth.items():
            evs = store.transaction_events(p)
            threads = {t["tid"], t["ledger"]["tid"]}
            wrong = [(e["event_type"], e["tid"], e["timestamp_ns"], e["financial_context"]["join_method"],
                      e["financial_context"]["operation"])
                     for e in evs if e["tid"] not in threads]
            assert wrong == [], (p, t)  # 0 wrong joins
            assert {e["financial_context"]["join_method"] for e in evs if e["tid"] == t["tid"]} == {
                "client_conn", "server_child", "parent_thread"}
            ledger = [e for e in evs if e["tid"] == t["ledger"]["tid"] and e["tid"] != t["tid"]]
            if ledger:  # the leaf /ledger span: only the loop's wake-up tells its worker
                assert {e["financial_context"]["join_method"] for e in ledger} == {"server_wakeup"}
                assert [e["bytes"] for e in ledger if e["event_type"] == "SyscallWrite"] == [777]
                ledger_joined += 1
        print(f"waitress: {ledger_joined}/{len(truth)} leaf spans placed by wake-up, the rest left unjoined")
        assert ledger_joined >= len(truth) // 4
    finally:
        if app.poll() is None:
            app.kill()
        running.stop()

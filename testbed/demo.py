"""`kprobe demo`: the seeds' incident end to end on embedded defaults.

receiver (Capture by comm) ──OTLP──► processor (in process, chdb) ◄──OTLP── the services
                                          │
testbed: load + faults ─► GroundTruth     └─► engine_verdict(store, payment) (testbed.verdict)

The demo explains the failed (or slowest) payment, preferring the named one
(pay-98721, ₹50,000), and prints the engine's causal chain next to the injected
truth and the kernel evidence measured from the captured events.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.errors import TestbedError, require_root
from testbed.evidence import payment_evidence
from testbed.runner import Testbed
from testbed.scenarios import ScenarioSpec
from testbed.system import CAPTURE_COMMS, SystemConfig
from testbed.truth import FaultTruth, GroundTruth, PaymentOutcome
from testbed.verdict import Verdict, agreement, engine_verdict


def run_demo(spec: ScenarioSpec, *, timeout_ms: int = 750, as_json: bool = False,
             data_dir: str | None = None) -> int:
    """Run the scenario under capture, explain the focus payment, print the report."""
    require_root()
    from causal_processor import config, server
    from collector_receiver import Capture, CaptureError
    from collector_receiver.exporter import OtlpExporter

    keep = data_dir is not None
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="kprobe-demo-"))
    dsn = f"chdb://{(root / 'clickhouse').resolve()}"
    _progress(as_json, f"processor: embedded, storing in {dsn}")
    running = server.start(config.local(dsn, window_s=0.5, idle_flush_s=0.5, http=False))
    try:
        endpoint = f"http://127.0.0.1:{running.grpc_port}"
        exporter = OtlpExporter(endpoint=endpoint, protocol="grpc")
        with Testbed(SystemConfig(timeout_ms=timeout_ms, otlp_endpoint=endpoint)) as tb:
            _progress(as_json, "testbed: payment-handler, risk-check, settlement-svc, batch-job up; "
                      f"running scenario {spec.name}")
            try:
                sink = _ThisRun(exporter, tb.system.run_pids)
                with Capture(comms=CAPTURE_COMMS, exporter=sink, keep_events=False):
                    truth = tb.run(spec)
            except CaptureError as e:
                raise TestbedError(f"eBPF capture failed: {e}") from e
        exporter.flush(30)
        exporter.shutdown()
        focus = truth.focus_payment()
        if focus is None:
            raise TestbedError("the scenario sent no payment")
        _progress(as_json, f"explaining {focus.payment_id} ({focus.status}, {focus.latency_ms:.0f} ms)")
        _wait_joined(running.processor.store, focus.payment_id)
        verdict: Verdict | None = None
        error = ""
        try:
            verdict = engine_verdict(running.processor.store, focus.payment_id)
        except Exception as e:  # the report still carries truth and evidence
            error = f"{type(e).__name__}: {e}"
        evidence = payment_evidence(truth, focus, sink.events)
        report = build_report(truth, focus, verdict, error, evidence, dsn if keep else "")
        if as_json:
            json.dump(report, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print(render(truth, focus, verdict, error, evidence, report))
        return 0 if verdict is not None else 1
    finally:
        running.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


class _ThisRun:
    """The capture's exporter, keeping only this run's processes (other testbed runs
    on the machine use the same comms) and only traces (the embedded processor has
    no MetricsService). Keeps the events it passes on for the evidence."""

    def __init__(self, exporter: Any, pids: Callable[[], set[int]]) -> None:
        self._exporter = exporter
        self._pids = pids
        self.events: list[dict[str, Any]] = []

    def export_events(self, evs: Any, resources: Any) -> None:
        ours = self._pids()
        mine = [e for e in evs if e["pid"] in ours]
        self.events.extend(mine)
        if mine:
            self._exporter.export_events(mine, resources)

    def export_metrics(self, capture: Any) -> None:
        """Capture statistics stay in the capture (Capture.stats)."""

    def flush(self, timeout_s: float | None = None) -> bool:
        return bool(self._exporter.flush(timeout_s))


def _progress(quiet: bool, message: str) -> None:
    if not quiet:
        print(f"kprobe demo: {message}", file=sys.stderr, flush=True)


def _wait_joined(store: Any, transaction_id: str, timeout_s: float = 20.0) -> None:
    """Until the processor has the transaction and its joined events stop growing."""
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        if store.transaction(transaction_id) is not None:
            n = len(store.transaction_events(transaction_id))
            if n and n == last:
                return
            last = n
        time.sleep(0.5)


def build_report(truth: GroundTruth, focus: PaymentOutcome, verdict: Verdict | None, error: str,
                 evidence: dict[str, Any], dsn: str) -> dict[str, Any]:
    """The machine-readable report of `kprobe demo --json`."""
    return {
        "scenario": truth.scenario,
        "timeout_ms": truth.timeout_ms,
        "transaction": {
            "id": focus.payment_id,
            "status": focus.status,
            "reason": focus.reason,
            "stage": focus.stage,
            "latency_ms": focus.latency_ms,
            "trace_id": focus.trace_id,
            "named": focus.named,
        },
        "root_cause": None if verdict is None else {
            "mechanism": verdict.mechanism,
            "culprit": verdict.culprit,
            "contribution_ns": verdict.contribution_ns,
        },
        "engine_error": error or None,
        "injected": [_fault_dict(f) for f in truth.faults],
        "agreement": None if verdict is None else agreement(truth, verdict),
        "evidence": evidence,
        "explanation": None if verdict is None else verdict.explanation,
        "ground_truth": truth.to_dict(),
        "store": dsn or None,
    }


def _fault_dict(f: FaultTruth) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "mechanism": f.mechanism,
        "target": {"service": f.target_service, "pid": f.target_pid, "comm": f.target_comm},
        "culprits": [{"role": c.role, "pid": c.pid, "tid": c.tid, "comm": c.comm} for c in f.culprits],
        "intensity": f.intensity,
        "start_ns": f.start_ns,
        "end_ns": f.end_ns,
        "distractor": f.distractor,
    }


def render(truth: GroundTruth, focus: PaymentOutcome, verdict: Verdict | None, error: str,
           evidence: dict[str, Any], report: dict[str, Any]) -> str:
    """The human report: the engine's chain, then what was injected and measured."""
    out = [f"Payment {focus.payment_id} (₹{focus.amount:,.0f}) {focus.status.upper()}"
           + (f": {focus.reason} at {focus.stage} after {focus.latency_ms:.0f} ms"
              if focus.status != "succeeded" else f" in {focus.latency_ms:.0f} ms"),
           ""]
    if verdict is not None:
        out.extend(verdict.story)
    else:
        out.append(f"(the causal engine could not explain it: {error})")
    out += ["", f"Injected (ground truth, scenario {truth.scenario}, timeout {truth.timeout_ms} ms):"]
    if not truth.faults:
        out.append("  nothing: healthy traffic")
    for f in truth.faults:
        start = (f.start_ns - truth.started_ns) / 1e9
        who = ", ".join(f"{c.comm} pid {c.pid}" + (f" tid {c.tid}" if c.tid else "")
                        for c in f.culprits) or "no process (the network / the app itself)"
        target = f"{f.target_service} (pid {f.target_pid})" if f.target_service else "no service"
        knobs = " ".join(f"{k}={v:g}" for k, v in f.intensity.items())
        out.append(f"  {f.kind}{' [distractor]' if f.distractor else ''} on {target} "
                   f"from +{start:.2f} s, culprit {who}; {knobs}")
    ev = evidence
    out += ["", f"Kernel evidence in the payment's {ev['window_ms']:.0f} ms window (captured):",
            f"  settlement-svc memcg reclaim {ev['settlement_memcg_reclaim_ms']:.0f} ms "
            f"({ev['settlement_reclaim_intervals']} intervals), longest run-queue wait "
            f"{ev['settlement_longest_runq_wait_ms']:.0f} ms, slowest fsync "
            f"{ev['settlement_slowest_fsync_ms']:.0f} ms, {ev['settlement_tcp_retransmits']} TCP "
            f"retransmits, blocked by the lock holder {ev['settlement_blocked_by_lock_holder_ms']:.0f} ms;",
            f"  risk-check longest sleep {ev['risk_check_longest_sleep_ms']:.0f} ms"]
    agree = report["agreement"]
    if agree is not None:
        marks = {True: "matches", False: "DIFFERS", None: "n/a"}
        out.append(f"Engine vs truth: mechanism {marks[agree['mechanism']]}, "
                   f"culprit {marks[agree['culprit']]}")
    failed = len(truth.failed)
    out.append(f"Payments: {len(truth.payments)} sent, {failed} failed")
    if report["store"]:
        out.append(f"Stored in {report['store']}: kprobe explain {focus.payment_id} "
                   f"--store {report['store']}")
    return "\n".join(out)

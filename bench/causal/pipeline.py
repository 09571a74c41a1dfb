"""The whole product on the testbed: real capture -> processor (OTLP, join, chdb) ->
`explain`, judged against the testbed's ground truth.

Used by tests/causal/test_testbed.py (2 repetitions per scenario) and by
bench/causal/evaluate.py (AC@1 over more repetitions, docs/EVALUATION.md).
The capture follows the children of this process, so it records the
services, the batch job, the hogs and the disk writer the testbed starts,
and nothing of the other users of the machine.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from causal_processor import server
from causal_processor.causal.explain import Explanation, explain
from causal_processor.causal.store_source import StoreSource
from causal_processor.config import ProcessorConfig
from kprobe import otlp

log = logging.getLogger(__name__)
TYPES = ["SyscallWrite", "SyscallRead", "SyscallFsync", "TCPRecv", "TCPSend", "SchedSwitch", "SchedWakeup",
         "PageFault", "MemoryReclaim", "TCPRetransmit"]


class KernelSpanSender:
    """Ships captured events to the processor as OTLP kernel spans (as the receiver's exporter)."""

    def __init__(self, grpc_port: int) -> None:
        self.stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        self.lock = threading.Lock()
        self.sent = 0

    def __call__(self, evs: list[dict]) -> None:
        if not evs:
            return
        with self.lock:
            pids = {e["pid"] for e in evs}
            comms = {e["pid"]: e["comm"] for e in evs}
            req = otlp.events_to_request(evs, {p: otlp.process_resource(p, comms[p]) for p in pids})
            self.stub.Export(req, timeout=60)
            self.sent += len(evs)


def processor_config(dsn: str) -> ProcessorConfig:
    cfg = ProcessorConfig()
    cfg.storage.dsn = dsn
    cfg.storage.batch_ms = 20
    cfg.otlp.grpc_endpoint = "127.0.0.1:0"
    cfg.otlp.http_endpoint = ""
    cfg.join.window_s = 0.5
    cfg.join.idle_flush_s = 0.5
    cfg.join.tick_ms = 50
    return cfg


@dataclass
class Verdict:
    """One scenario run: the truth, the engine's explanation, and how they compare."""

    scenario: str
    truth: Any  # testbed.GroundTruth
    payment_id: str
    explanation: Explanation | None
    error: str = ""
    checks: dict[str, bool] = field(default_factory=dict)
    attempts: int = 1  # runs it took for the incident to happen as injected

    @property
    def mechanism(self) -> str:
        return self.explanation.root_cause.mechanism if self.explanation else "error"

    def to_dict(self) -> dict[str, Any]:
        x = self.explanation
        rc = x.root_cause if x else None
        c = rc.culprit if rc else None
        return {
            "scenario": self.scenario, "payment_id": self.payment_id, "error": self.error,
            "reproduced": self.truth.reproduced, "attempts": self.attempts,
            "mechanism": self.mechanism,
            "culprit": {"pid": c.pid, "tid": c.tid, "comm": c.comm, "service": c.service} if c else None,
            "contribution_ms": rc.contribution_ns / 1e6 if rc else None,
            "end_to_end_ms": x.end_to_end_ns / 1e6 if x else None,
            "expected": expected(self.truth), "checks": self.checks,
            "segments": [[seg.mechanism, round(seg.duration_ns / 1e6, 1), seg.evidence[:2]]
                         for seg in (x.graph.critical_path if x else []) if seg.duration_ns >= 10_000_000],
        }


def expected(truth: Any) -> dict[str, Any]:
    """What a correct verdict names for this run: the non-distractor fault hitting the
    focus payment (the one whose injected delay is largest), or none."""
    faults = [f for f in truth.faults if not f.distractor and f.target_service]
    if not faults:
        return {"mechanism": "none", "culprits": [], "service": ""}
    main = max(faults, key=_injected_ms)
    return {
        "mechanism": main.mechanism,
        "culprits": [{"pid": c.pid, "tid": c.tid, "comm": c.comm} for c in main.culprits],
        "service": main.target_service, "delay_ms": _injected_delay(main),
    }


def _injected_delay(f: Any) -> float | None:
    """The delay a fault sets by construction (None when the kernel decides it)."""
    if f.kind == "slow-dependency":
        return float(f.intensity["delay_ms"])
    return None


def _injected_ms(f: Any) -> float:
    return _injected_delay(f) or 1e9  # kernel faults dominate app delays they are combined with


def judge(v: Verdict) -> dict[str, bool]:
    """The checks of docs/EVALUATION.md for one run."""
    exp = expected(v.truth)
    x = v.explanation
    if x is None:
        return {"mechanism": False, "culprit": False}
    rc = x.root_cause
    checks = {"mechanism": rc.mechanism == exp["mechanism"]}
    if exp["mechanism"] == "none":
        checks["culprit"] = rc.culprit is None
    elif exp["culprits"]:
        c = rc.culprit
        want = exp["culprits"]
        checks["culprit"] = c is not None and any(
            c.pid == w["pid"] and (not w["tid"] or c.tid == w["tid"]) for w in want)
    elif exp["mechanism"] == "downstream-latency":
        checks["culprit"] = rc.culprit is not None and rc.culprit.service == exp["service"]
    else:  # tcp-retransmit: the flow is the cause, no process is to blame
        checks["culprit"] = True
    if exp.get("delay_ms"):
        checks["contribution"] = abs(rc.contribution_ns / 1e6 - exp["delay_ms"]) <= 0.2 * exp["delay_ms"]
    return checks


class Pipeline:
    """Processor + capture + testbed, kept up across scenario runs."""

    def __init__(self, dsn: str, timeout_ms: int = 750) -> None:
        from collector_receiver.capture import Capture
        from testbed import SystemConfig, Testbed

        self._runs = 0
        self.timeout_ms = timeout_ms
        self.running = server.start(processor_config(dsn))
        self.store = self.running.processor.store
        self.sender = KernelSpanSender(self.running.grpc_port)
        try:
            self.capture = Capture(pids=[os.getpid()], types=TYPES, on_events=self.sender, keep_events=False)
            self.capture.__enter__()
        except Exception:
            self.running.stop(flush=False)
            raise
        self.testbed = Testbed(SystemConfig(timeout_ms=timeout_ms,
                                            otlp_endpoint=f"http://127.0.0.1:{self.running.grpc_port}"))
        try:
            self.testbed.__enter__()
        except Exception:
            self.close()
            raise

    def run(self, spec: Any) -> Verdict:
        """One scenario run, explained and judged."""
        from testbed import scenario

        self._runs += 1
        if isinstance(spec, str):  # one store across runs: the named payment needs its own id
            spec = scenario(spec, named_payment_id=f"pay-98721-{os.getpid()}-{self._runs}")
        truth = self.testbed.run(spec)
        focus = truth.focus_payment()
        name = spec.name
        if focus is None:
            return Verdict(name, truth, "", None, "no payment completed")
        v = Verdict(name, truth, focus.payment_id, None)
        try:
            v.explanation = self._explain(focus.payment_id, focus.done_ns)
        except LookupError as e:
            v.error = str(e)
        v.checks = judge(v)
        return v

    def run_reproduced(self, spec: Any, attempts: int = 3) -> Verdict:
        """`run` until the incident happens as injected (`GroundTruth.reproduced`, the
        handler's own answer), at most `attempts` times: the engine is judged on
        incidents that happened, and the runs where a fault did not bite are counted
        in `Verdict.attempts`. A run the testbed itself broke is retried on a fresh
        payment system (a service killed under a loaded machine is not a verdict)."""
        tries = 0
        while True:
            tries += 1
            try:
                v = self.run(spec)
            except Exception as e:
                if tries >= attempts:
                    raise
                log.warning("testbed run failed (%s); restarting the payment system", e)
                self._restart_testbed()
                continue
            v.attempts = tries
            if v.truth.reproduced or tries >= attempts:
                return v
            focus = v.truth.focus_payment()
            log.warning("%s: payment %s %s, the faults predict %s; running the scenario again",
                        v.scenario, focus.payment_id if focus else "-", focus.status if focus else "-",
                        v.truth.expected_named_status)

    def _restart_testbed(self) -> None:
        from testbed import SystemConfig, Testbed

        try:
            self.testbed.__exit__(None, None, None)
        except Exception as e:  # already broken: its leftovers are swept on the next start
            log.warning("closing the broken testbed: %s", e)
        self.testbed = Testbed(SystemConfig(timeout_ms=self.timeout_ms,
                                            otlp_endpoint=f"http://127.0.0.1:{self.running.grpc_port}"))
        self.testbed.__enter__()

    def _explain(self, txn: str, done_ns: int) -> Explanation:
        """Explain once the spans and the join of the payment are in (late data is normal)."""
        deadline = time.monotonic() + 15
        while True:
            t = self.store.transaction(txn)
            if t is not None and self.store.transaction_events(txn):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # the join's window: kernel events of the last moments
        return explain(StoreSource(self.store), txn)

    def close(self) -> None:
        try:
            if getattr(self, "testbed", None) is not None:
                self.testbed.__exit__(None, None, None)
        finally:
            try:
                self.capture.__exit__(None, None, None)
            finally:
                self.running.stop(flush=False)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The payment system itself: real OTel traces across real processes, steady load."""

from __future__ import annotations

from testbed import Testbed, scenario
from tests.testbed.otlp_sink import SpanSink, span_named

SETTLEMENT_SPANS = {"ledger.write", "ledger.lock.wait", "ledger.append", "ledger.fsync"}


def test_healthy_payments_are_traced_across_the_services(testbed: Testbed, span_sink: SpanSink) -> None:
    truth = testbed.run(scenario("none", duration_s=2.0, rate_per_s=10))

    assert truth.faults == [] and truth.expected_named_status == "succeeded"
    # 10/s for the 2 s of load, plus the named payment
    assert 19 <= len(truth.payments) <= 23
    named = truth.named
    assert named is not None and named.payment_id == "pay-98721" and named.amount == 50000.0
    assert named.status == "succeeded" and named.latency_ms < truth.timeout_ms
    # a failure here can only be the deadline on an overloaded machine, never an error
    assert len(truth.failed) <= len(truth.payments) // 10
    assert {(p.status, p.reason) for p in truth.failed} <= {("failed", "timeout")}

    spans = span_sink.wait_for(named.trace_id, SETTLEMENT_SPANS | {"risk.score"})
    pids = {name: info.pid for name, info in truth.services.items()}
    by_service = {s["service"] for s in spans}
    assert by_service == {"payment-handler", "risk-check", "settlement-svc"}
    for s in spans:  # process.pid from the SDK's ProcessResourceDetector is the real pid
        assert s["pid"] == pids[s["service"]]
    root = next(s for s in spans if not s["parent_span_id"])
    assert root["service"] == "payment-handler"
    assert root["attributes"]["payment.id"] == "pay-98721"
    assert root["attributes"]["transaction.id"] == "pay-98721"
    assert root["attributes"]["payment.amount"] == 50000.0
    assert root["attributes"]["payment.status"] == "succeeded"
    write = span_named(spans, "ledger.write")
    assert write["attributes"]["payment.id"] == "pay-98721"
    for child in ("ledger.lock.wait", "ledger.append", "ledger.fsync"):
        c = span_named(spans, child)
        assert c["parent_span_id"] == write["span_id"]
        assert write["start_ns"] <= c["start_ns"] <= c["end_ns"] <= write["end_ns"]
    # the handler's measured latency is its server span's duration
    assert abs((root["end_ns"] - root["start_ns"]) / 1e6 - named.latency_ms) < 5


def test_each_run_starts_on_an_empty_ledger(testbed: Testbed) -> None:
    """One entry per settled payment of this run only: the ledger volume would fill
    after ~60 runs otherwise, and every payment would fail."""
    block = testbed.system.config.ledger_block_bytes
    for _ in range(2):
        truth = testbed.run(scenario("none", duration_s=1.0, rate_per_s=10))
        size = testbed.system.ledger_path.stat().st_size
        assert size % block == 0
        assert len(truth.payments) - len(truth.failed) <= size // block <= len(truth.payments)


def test_services_are_placed_for_the_faults(testbed: Testbed) -> None:
    system = testbed.system
    settlement = system.child("settlement-svc").pid
    batch = system.child("batch-job").pid
    assert system.pool is not None and sorted(system.pool.pids()) == sorted([settlement, batch])
    for role, child in system.children.items():
        with open(f"/proc/{child.pid}/comm") as f:
            assert f.read().strip() == role
        with open(f"/proc/{child.pid}/status") as f:
            allowed = next(line for line in f if line.startswith("Cpus_allowed_list"))
        assert allowed.split()[-1] == ",".join(map(str, system.cpus_of(role)))

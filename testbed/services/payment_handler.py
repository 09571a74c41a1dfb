"""payment-handler: accepts POST /payments, calls risk-check then settlement-svc.

It enforces one deadline for the whole payment (PAYMENT_TIMEOUT_MS, default 750):
each downstream call gets what is left of it, and a payment whose deadline passes
is marked failed with reason "timeout" (HTTP 504), like the seeds' incident.
"""

from __future__ import annotations

import os
import time
from typing import Any

from testbed.services.process import setup_from_env

SERVICE = "payment-handler"


def main() -> None:
    setup_from_env(SERVICE)
    import requests
    from opentelemetry import trace

    from testbed.services.http import serve
    from testbed.services.telemetry import current_trace_id, init_tracing

    provider = init_tracing(SERVICE, instrument_requests=True)
    # one pooled client, as services do: calls reuse established keep-alive connections
    client = requests.Session()
    client.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32))
    risk_url = os.environ["RISK_URL"]
    settlement_url = os.environ["SETTLEMENT_URL"]
    timeout_s = int(os.environ.get("PAYMENT_TIMEOUT_MS", "750")) / 1000

    def create_payment(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payment_id = str(body.get("payment_id") or "")
        if not payment_id:
            return 400, {"error": "payment_id is required"}
        amount = body.get("amount", 0)
        started = time.monotonic()
        deadline = started + timeout_s
        span = trace.get_current_span()
        span.set_attributes({
            "payment.id": payment_id,
            "transaction.id": payment_id,
            "payment.amount": float(amount),
            "payment.currency": str(body.get("currency", "INR")),
            "payment.timeout_ms": int(timeout_s * 1000),
        })
        request = {"payment_id": payment_id, "amount": amount}
        stage = "risk-check"
        try:
            left = max(0.001, deadline - time.monotonic())
            risk = client.post(risk_url, json=request, timeout=(left, left))
            if risk.status_code != 200 or not risk.json().get("approved"):
                return _outcome(span, payment_id, started, "failed", "risk_rejected", stage, 402)
            stage = "settlement-svc"
            left = max(0.001, deadline - time.monotonic())
            settle = client.post(settlement_url, json=request, timeout=(left, left))
            if settle.status_code != 201:
                return _outcome(span, payment_id, started, "failed", "settlement_error", stage, 502)
        except requests.Timeout:
            return _outcome(span, payment_id, started, "failed", "timeout", stage, 504)
        except requests.ConnectionError:
            return _outcome(span, payment_id, started, "failed", "unreachable", stage, 502)
        return _outcome(span, payment_id, started, "succeeded", "", "", 201)

    def _outcome(
        span: Any, payment_id: str, started: float, status: str, reason: str, stage: str, code: int
    ) -> tuple[int, dict[str, Any]]:
        latency_ms = (time.monotonic() - started) * 1000
        span.set_attribute("payment.status", status)
        if status == "failed":
            span.set_attribute("payment.failure.reason", reason)
            span.set_attribute("payment.failure.stage", stage)
            span.add_event("payment.failed", {"reason": reason, "stage": stage})
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{reason} at {stage}"))
        return code, {
            "payment_id": payment_id,
            "status": status,
            "reason": reason,
            "stage": stage,
            "latency_ms": round(latency_ms, 3),
            "trace_id": current_trace_id(),
        }

    serve(provider, {"/payments": create_payment}, threads=16)


if __name__ == "__main__":
    main()

"""risk-check: scores a payment. Its admin hook adds a user-space delay.

The delay is a plain sleep in application code (the slow-dependency fault): the
kernel is innocent, and the right answer is the risk-check span itself.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from testbed.services.process import setup_from_env

SERVICE = "risk-check"


def main() -> None:
    setup_from_env(SERVICE)
    from opentelemetry import trace

    from testbed.services.http import serve
    from testbed.services.telemetry import init_tracing

    provider = init_tracing(SERVICE)
    tracer = trace.get_tracer(SERVICE)
    delay = {"ms": 0.0}

    def check(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payment_id = str(body.get("payment_id", ""))
        trace.get_current_span().set_attributes(
            {"payment.id": payment_id, "transaction.id": payment_id}
        )
        with tracer.start_as_current_span("risk.score", attributes={"payment.id": payment_id}):
            digest = hashlib.sha256(payment_id.encode()).digest()
            score = digest[0] / 255
            if delay["ms"]:
                time.sleep(delay["ms"] / 1000)
        return 200, {"approved": True, "score": round(score, 3)}

    def set_delay(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        delay["ms"] = float(body.get("delay_ms", 0))
        return 200, {"delay_ms": delay["ms"]}

    serve(provider, {"/risk/check": check}, admin={"/admin/delay": set_delay})


if __name__ == "__main__":
    main()

"""Load generator: payments at a steady rate, plus one named payment on demand.

Payments go to payment-handler over real HTTP from a thread pool, so slow ones
overlap the next ones as they would in production. Each outcome is what the
handler answered (status, reason, its own latency and the trace id).
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import requests

from testbed.truth import PaymentOutcome


class LoadGenerator:
    """Sends `rate_per_s` payments per second until stopped."""

    def __init__(self, url: str, rate_per_s: float, id_prefix: str, seed: int = 98721) -> None:
        self.url = url
        self.rate_per_s = rate_per_s
        self.id_prefix = id_prefix
        self._rng = random.Random(seed)
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="testbed-load")
        self._futures: list[Future[PaymentOutcome]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._count = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="testbed-load", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.rate_per_s <= 0:
            return
        interval = 1.0 / self.rate_per_s
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._count += 1
            amount = round(self._rng.uniform(100, 20000), 2)
            self.submit(f"{self.id_prefix}-{self._count:05d}", amount)
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def submit(self, payment_id: str, amount: float, named: bool = False) -> Future[PaymentOutcome]:
        future = self._pool.submit(send_payment, self.url, payment_id, amount, named)
        self._futures.append(future)
        return future

    def stop(self) -> list[PaymentOutcome]:
        """Stop sending, wait for every payment in flight, return all outcomes in send order."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        outcomes = [f.result() for f in list(self._futures)]
        self._pool.shutdown(wait=True)
        return sorted(outcomes, key=lambda p: p.sent_ns)


def send_payment(url: str, payment_id: str, amount: float, named: bool = False) -> PaymentOutcome:
    """POST one payment and record what the handler said."""
    sent = time.time_ns()
    try:
        r = requests.post(url, json={"payment_id": payment_id, "amount": amount, "currency": "INR"},
                          timeout=30)
        body = r.json()
        return PaymentOutcome(
            payment_id=payment_id, amount=amount, sent_ns=sent, done_ns=time.time_ns(),
            status=str(body.get("status", "error")), reason=str(body.get("reason", "")),
            stage=str(body.get("stage", "")), latency_ms=float(body.get("latency_ms", 0.0)),
            trace_id=str(body.get("trace_id", "")), named=named,
        )
    except (requests.RequestException, ValueError) as e:
        done = time.time_ns()
        return PaymentOutcome(
            payment_id=payment_id, amount=amount, sent_ns=sent, done_ns=done, status="error",
            reason=type(e).__name__, stage="payment-handler", latency_ms=(done - sent) / 1e6,
            trace_id="", named=named,
        )

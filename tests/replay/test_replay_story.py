"""The seeds' story: a payment failed because settlement's ledger write took 800 ms while the
handler waited 750 ms. Replay the incident; then raise the timeout; then make the write fast.

The recorded tree is the testbed's real settlement-svc (waitress, 32 worker threads, flock +
write + fsync, OTel spans) and the payment-handler's call to it with the handler's deadline
(corpus/settlement_payment.py); the slow disk is injected while recording, as
`strace --inject=fsync:delay_exit=` would. The fsync cannot return before 800 ms, so the
payment fails in every recording; replays are serialised in the recorded order, so each
outcome below is the same on every run.
"""

from __future__ import annotations

import json

from replay_helpers import CORPUS, kprobe, needs_tracing
from service_driver import VENV_PY

pytestmark = needs_tracing


def test_failing_payment_replays_and_both_fixes_are_verified(tmp_path):
    rec = str(tmp_path / "payment.kpr")
    got = kprobe("replay", "record", "-q", "-o", rec, "--inject", "fsync:delay_exit=800ms",
                 "--", VENV_PY, str(CORPUS / "settlement_payment.py"))
    assert got.returncode == 1, got.stderr
    out = got.stdout.decode()
    assert out.endswith("FAILED: settlement-svc did not answer within 750 ms\n"), out
    payment = out.split()[1]
    settled = f"payment-handler: {payment} SETTLED entry 1\n"

    replayed = kprobe("replay", "run", rec, netns=True)
    assert (replayed.returncode, replayed.stdout, replayed.stderr) == (1, got.stdout, got.stderr)

    def verify(*change: str) -> dict:
        report = tmp_path / "verify.json"
        res = kprobe("replay", "verify", rec, *change, "--report", str(report), netns=True)
        assert res.returncode == 0, res.stderr
        return json.loads(report.read_text())

    raised = verify("--env", "PAYMENT_TIMEOUT_MS=1500")
    assert raised["exit_status"] == 0 and raised["exit_changed"]
    assert (raised["stdout"], raised["stderr"]) == (settled, "")
    div = raised["replay"]["divergence"]
    assert div["reason"] == "a different timeout" and div["actual"].endswith(", 1500)")

    fast = verify("--inject", "fsync:duration=100ms")
    assert fast["exit_status"] == 0
    assert (fast["stdout"], fast["stderr"]) == (settled, "")
    assert fast["replay"]["divergence"]["reason"].startswith("timing changed")

    still_slow = verify("--inject", "fsync:duration=790ms")
    assert still_slow["exit_status"] == 1 and not still_slow["output_changed"]

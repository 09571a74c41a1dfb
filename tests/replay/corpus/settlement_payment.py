"""The payment-handler's call to the testbed's real settlement-svc, as one recorded tree.

Starts `python -m testbed.services.settlement` (waitress, 32 worker threads, flock +
write + fsync per payment, OTel spans), sends it one payment with payment-handler's
deadline (PAYMENT_TIMEOUT_MS, 750 ms by default), prints the outcome the handler would
report, then stops the service. Recorded with a slow disk (fsync 800 ms), the payment
fails; the seeds' story replays it with the deadline raised or the write made fast.
"""
import ctypes
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
TIMEOUT_MS = int(os.environ.get("PAYMENT_TIMEOUT_MS", "750"))

ledger = tempfile.mkdtemp(prefix="ledger-")
env = dict(os.environ, LEDGER_PATH=os.path.join(ledger, "ledger.log"), LEDGER_BLOCK_BYTES="4096",
           OTEL_TRACES_EXPORTER="none", PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1")
service = subprocess.Popen([sys.executable, "-m", "testbed.services.settlement"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE)
port = int(re.search(rb"port=(\d+)", service.stdout.readline()).group(1))

payment = f"pay-{os.urandom(3).hex()}"
handler = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_MS / 1000)
handler.request("POST", "/settlements", json.dumps({"payment_id": payment, "amount": 50000}),
                {"Content-Type": "application/json"})
try:
    answer = json.loads(handler.getresponse().read())
    print(f"payment-handler: {payment} SETTLED entry {answer['entry']}", flush=True)
    status = 0
except TimeoutError:
    print(f"payment-handler: {payment} FAILED: settlement-svc did not answer within {TIMEOUT_MS} ms",
          flush=True)
    status = 1
    handler.sock.settimeout(None)  # settlement still finishes the payment: its late answer
    handler.sock.recv(65536)
# SIGTERM to the service's main thread (the one that runs Python's signal handlers)
ctypes.CDLL(None, use_errno=True).syscall(234, service.pid, service.pid, signal.SIGTERM)
service.wait()
sys.exit(status)

"""Stand-in for the testbed's payment path: payment-handler -> settlement server.

The handler sends one payment to the settlement server and waits PAYMENT_TIMEOUT_MS
(750 ms by default) for the answer; settlement appends the payment to its ledger and
fsyncs it before answering. Recorded with a slow disk (fsync 800 ms), the payment
fails; the seeds' story replays it with the timeout raised or the write made fast.
"""
import os
import socket
import sys
import tempfile
import threading

TIMEOUT_MS = int(os.environ.get("PAYMENT_TIMEOUT_MS", "750"))
LEDGER = os.environ.get("LEDGER") or os.path.join(tempfile.mkdtemp(), "ledger.log")

server = socket.create_server(("127.0.0.1", 0))


def settlement() -> None:
    conn, _ = server.accept()
    request = conn.recv(1024)
    fd = os.open(LEDGER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(fd, request + b"\n")
    os.fsync(fd)  # the slow ledger write
    os.close(fd)
    conn.sendall(b"SETTLED " + request.split()[1])
    conn.close()


settler = threading.Thread(target=settlement)
settler.start()
payment = f"pay-{os.urandom(3).hex()}"
client = socket.create_connection(server.getsockname())
client.settimeout(TIMEOUT_MS / 1000)
client.sendall(f"SETTLE {payment} 50000 INR".encode())
try:
    answer = client.recv(1024).decode()
    print(f"payment-handler: {payment} {answer}", flush=True)
    status = 0
except TimeoutError:
    print(f"payment-handler: {payment} FAILED: settlement did not answer within {TIMEOUT_MS} ms",
          flush=True)
    status = 1
settler.join()
sys.exit(status)

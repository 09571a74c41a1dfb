"""TCP capture across threads: connections made in one thread and used from pool workers.

Thread-pool servers (waitress) and pooled clients (requests) send on sockets
another thread connected or accepted, and a server worker may answer a client
that already gave up (timed out and closed). Every TCPSend and TCPRecv must
carry the socket's exact 4-tuple, matching on both ends, with exact byte totals.
The late answer is the case that once recorded local port 0: the peer's RST is
handled inside the answering sendmsg on loopback, which closes the socket and
releases its port before the send's tracepoint fires.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from collector_receiver import Capture

pytestmark = [pytest.mark.ebpf, pytest.mark.usefixtures("loaded_programs")]

# The main thread connects and accepts; every send and receive runs in a pool worker.
POOLED = r"""
import socket, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
k, b, late, host = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
srv.bind((host, 0))
srv.listen()
main = threading.get_native_id()
server_pool = ThreadPoolExecutor(4, thread_name_prefix="srv")
client_pool = ThreadPoolExecutor(4, thread_name_prefix="cli")

def connect():
    client = socket.create_connection((host, srv.getsockname()[1]))
    conn, _ = srv.accept()
    return client, conn

def in_worker(fn, *a):
    assert threading.get_native_id() != main
    return fn(*a)

client, conn = connect()

def answer():
    assert len(conn.recv(b, socket.MSG_WAITALL)) == b
    conn.sendall(b"r" * b)

for _ in range(k):
    answered = server_pool.submit(in_worker, answer)
    client_pool.submit(in_worker, client.sendall, b"q" * b).result()
    answered.result()
    assert len(client_pool.submit(in_worker, client.recv, b, socket.MSG_WAITALL).result()) == b

# A client that gives up: it sends its request and closes before the answer.
gone, late_conn = connect()
gone_ports = gone.getsockname()[1], late_conn.getsockname()[1]

def give_up():
    gone.sendall(b"q" * b)
    gone.close()

def answer_late():
    assert len(late_conn.recv(b, socket.MSG_WAITALL)) == b
    assert late_conn.recv(1) == b""  # the client's FIN: it is gone
    sent = 0
    for _ in range(50):
        try:
            sent += late_conn.send(b"r" * late)
        except OSError:
            return sent
        time.sleep(0.01)
    raise AssertionError("sends to a closed peer never failed")

client_pool.submit(in_worker, give_up).result()
late_sent = server_pool.submit(in_worker, answer_late).result()
server_pool.shutdown()
client_pool.shutdown()
print(client.getsockname()[1], conn.getsockname()[1], *gone_ports, late_sent, flush=True)
"""

Tuple = tuple[str, int, str, int]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_pool_workers_send_and_receive_with_the_socket_tuple(host: str) -> None:
    k, b, late = 40, 3000, 500
    with Capture(command=[sys.executable, "-c", POOLED, str(k), str(b), str(late), host],
                 types=["TCPSend", "TCPRecv"], command_stdout=subprocess.PIPE) as cap:
        assert cap.process is not None and cap.process.stdout is not None
        out = cap.process.stdout.read().decode()
        assert cap.wait(timeout=120) == 0
    client_port, server_port, gone_port, late_port, late_sent = map(int, out.split())
    assert late_sent >= late, "the first answer to the closed client is accepted"
    pid = cap.process.pid
    evs = cap.events_of("TCPSend", pid) + cap.events_of("TCPRecv", pid)

    def tup(e: dict) -> Tuple:
        return e["saddr"], e["sport"], e["daddr"], e["dport"]

    client_side: Tuple = (host, client_port, host, server_port)
    server_side: Tuple = (host, server_port, host, client_port)
    gone_side: Tuple = (host, gone_port, host, late_port)
    late_side: Tuple = (host, late_port, host, gone_port)
    totals: Counter[tuple[str, Tuple]] = Counter()
    for e in evs:
        totals[e["event_type"], tup(e)] += e["bytes"]
    assert totals == {
        ("TCPSend", client_side): k * b,
        ("TCPRecv", server_side): k * b,
        ("TCPSend", server_side): k * b,
        ("TCPRecv", client_side): k * b,
        ("TCPSend", gone_side): b,
        ("TCPRecv", late_side): b,
        ("TCPSend", late_side): late_sent,
    }
    failed = [e for e in evs if e["ret"] < 0]
    assert failed and all(e["event_type"] == "TCPSend" and tup(e) == late_side for e in failed), \
        "the failed send to the closed client still names its socket"
    assert all(e["tid"] != pid for e in evs), "every transfer ran in a pool worker"
    assert len({e["tid"] for e in evs}) >= 2

"""TCP capture: loopback ping-pong gives exact sends/receives with matching 4-tuples; loss gives retransmits."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from collector_receiver import Capture

pytestmark = [pytest.mark.ebpf, pytest.mark.usefixtures("loaded_programs")]
PY = sys.executable

PINGPONG = r"""
import os, socket, sys
k, b, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
srv.bind((host, 0))
srv.listen()
port = srv.getsockname()[1]
if os.fork() == 0:
    c = socket.create_connection((host, port))
    for _ in range(k):
        c.sendall(b"q" * b)
        assert len(c.recv(b, socket.MSG_WAITALL)) == b
    os._exit(0)
s, _ = srv.accept()
for _ in range(k):
    assert len(s.recv(b, socket.MSG_WAITALL)) == b
    s.sendall(b"r" * b)
os.wait()
print(port, flush=True)
"""


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_sends_and_receives_match_both_ends(host: str) -> None:
    k, b = 50, 1000
    with Capture(command=[PY, "-c", PINGPONG, str(k), str(b), host],
                 types=["TCPSend", "TCPRecv"]) as cap:
        cap.wait(timeout=60)
    server = cap.process.pid
    sends = cap.events_of("TCPSend")
    recvs = cap.events_of("TCPRecv")
    client_pids = {e["pid"] for e in sends} - {server}
    assert len(client_pids) == 1, "the forked client is followed"
    client = client_pids.pop()

    def of(evs: list, pid: int) -> list:
        return [e for e in evs if e["pid"] == pid and e["bytes"] > 0]

    c_send, c_recv, s_send, s_recv = of(sends, client), of(recvs, client), of(sends, server), of(recvs, server)
    for evs in (c_send, c_recv, s_send, s_recv):
        assert len(evs) == k
        assert all(e["bytes"] == b == e["ret"] for e in evs)
    c_tuple = {(e["saddr"], e["sport"], e["daddr"], e["dport"]) for e in c_send + c_recv}
    s_tuple = {(e["saddr"], e["sport"], e["daddr"], e["dport"]) for e in s_send + s_recv}
    assert len(c_tuple) == 1 and len(s_tuple) == 1
    saddr, sport, daddr, dport = c_tuple.pop()
    assert s_tuple.pop() == (daddr, dport, saddr, sport)
    assert saddr == daddr == host and sport != dport
    assert all(e["fd"] >= 0 for e in c_send + s_recv)


@pytest.fixture
def lossy_netns() -> Iterator[tuple[str, str]]:
    """A network namespace behind a veth pair whose input drops 20% of segments to port 9000."""
    tag = uuid.uuid4().hex[:6]
    ns, host_if, ns_if = f"kprx{tag}", f"kpa{tag}", f"kpb{tag}"
    host_ip, ns_ip = "10.213.7.1", "10.213.7.2"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("ip", "netns", "add", ns)
    try:
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns)
        run("ip", "addr", "add", f"{host_ip}/24", "dev", host_if)
        run("ip", "link", "set", host_if, "up")
        run("ip", "-n", ns, "addr", "add", f"{ns_ip}/24", "dev", ns_if)
        run("ip", "-n", ns, "link", "set", ns_if, "up")
        rules = ("table inet kploss { chain input { type filter hook input priority 0; "
                 "policy accept; tcp dport 9000 numgen random mod 100 < 20 drop; }; }")
        run("ip", "netns", "exec", ns, "nft", rules)
        yield ns, ns_ip
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


SINK = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(); print("ready", flush=True)
c, _ = s.accept()
while c.recv(65536):
    pass
"""
SENDER = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], 9000))
c.sendall(b"x" * 2_000_000)
print(c.getsockname()[1], flush=True)
c.shutdown(socket.SHUT_WR)
c.recv(1)
"""


def test_packet_loss_gives_retransmits(lossy_netns: tuple[str, str]) -> None:
    ns, ns_ip = lossy_netns
    sink = subprocess.Popen(["ip", "netns", "exec", ns, PY, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        with Capture(command=[PY, "-c", SENDER, ns_ip], types=["TCPSend", "TCPRetransmit"]) as cap:
            cap.process.wait(timeout=60)
        sender = cap.process.pid
    finally:
        sink.kill()
        sink.wait()
    rtx = cap.events_of("TCPRetransmit", sender)
    assert rtx, "20% loss must cause retransmits"
    sends = cap.events_of("TCPSend", sender)
    assert sum(e["bytes"] for e in sends) == 2_000_000
    flow = {(e["saddr"], e["sport"], e["daddr"], e["dport"]) for e in sends}
    assert {(e["saddr"], e["sport"], e["daddr"], e["dport"]) for e in rtx} == flow
    assert all(e["daddr"] == ns_ip and e["dport"] == 9000 and e["segments"] >= 1 for e in rtx)

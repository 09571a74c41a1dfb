"""Replays are byte-identical to their recordings, with the outside world gone."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time

import pytest
from replay_helpers import CORPUS, KPROBE, PY, kprobe, needs_tracing
from service_driver import run_service

from replay.recording import Recording
from replay.replayer import ReplayOptions
from replay.session import replay_captured

pytestmark = needs_tracing

PY_CORPUS = ["time_uuid", "threads_queue", "subprocess_run", "sqlite_db"]


def _native(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, timeout=60)


def _record(tmp_path, name: str, cmd: list[str]) -> tuple[str, subprocess.CompletedProcess]:
    rec = str(tmp_path / f"{name}.kpr")
    got = kprobe("replay", "record", "-q", "-o", rec, "--", *cmd)
    assert os.path.exists(rec), got.stderr
    return rec, got


def _assert_replays(rec: str, recorded: subprocess.CompletedProcess, times: int,
                    jitter_ms: float = 0.0) -> None:
    """The first replay goes through the CLI inside `unshare -n`; the rest through the API
    (each replay also runs in a fresh network namespace of its own)."""
    extra = ("--jitter-ms", str(jitter_ms)) if jitter_ms else ()
    got = kprobe("replay", "run", rec, *extra, netns=True)
    assert (got.returncode, got.stdout, got.stderr) == (
        recorded.returncode, recorded.stdout, recorded.stderr), got.stderr
    loaded = Recording.load(rec)
    for i in range(times - 1):
        out = replay_captured(loaded, ReplayOptions(jitter_ms=jitter_ms, seed=i))
        assert (out.replay.exit_status, out.stdout, out.stderr) == (
            recorded.returncode, recorded.stdout, recorded.stderr), f"replay {i}: {out.replay}"


def test_c_program_twenty_times_with_jitter(cbin, tmp_path):
    cmd = [cbin["nondet"]]
    a, b = _native(cmd), _native(cmd)
    assert a.stdout != b.stdout  # time, pid, randomness, addresses change natively
    rec, recorded = _record(tmp_path, "nondet", cmd)
    assert recorded.stdout.startswith(b"time ")
    _assert_replays(rec, recorded, 10)
    _assert_replays(rec, recorded, 10, jitter_ms=3)


@pytest.mark.parametrize("name", PY_CORPUS)
def test_python_corpus(name, tmp_path):
    cmd = [PY, str(CORPUS / f"{name}.py")]
    a, b = _native(cmd), _native(cmd)
    assert a.returncode == 0 and a.stdout != b.stdout
    rec, recorded = _record(tmp_path, name, cmd)
    assert recorded.returncode == 0, recorded.stderr
    _assert_replays(rec, recorded, 2)
    _assert_replays(rec, recorded, 1, jitter_ms=2)


def test_threads_queue_twenty_times(tmp_path):
    rec, recorded = _record(tmp_path, "tq", [PY, str(CORPUS / "threads_queue.py")])
    _assert_replays(rec, recorded, 10)
    _assert_replays(rec, recorded, 10, jitter_ms=1)


class _Now(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"server time {time.time_ns()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_http_request_replays_with_server_gone(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Now)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    cmd = [PY, str(CORPUS / "http_client.py"), str(server.server_address[1])]
    try:
        a, b = _native(cmd), _native(cmd)
        assert a.stdout != b.stdout and a.stdout.startswith(b"200 server time")
        rec, recorded = _record(tmp_path, "http", cmd)
    finally:
        server.shutdown()
        server.server_close()
    assert recorded.returncode == 0, recorded.stderr
    _assert_replays(rec, recorded, 3)



def test_testbed_settlement_service_handling_a_payment_twenty_times(tmp_path):
    """The testbed's settlement-svc (waitress, 32 worker threads woken through futexes, flock +
    write + fsync, OTel spans) answers one payment from this test, then gets SIGTERM. Replays
    run with the client gone, the ledger deleted and no network, 20 times in a row, the last
    ten with random delays in the tracer: one thread runs at a time, in the recorded order."""
    native = []
    for i in range(2):
        (tmp_path / f"n{i}").mkdir()
        native.append(run_service([], str(tmp_path / f"n{i}"))[0])
    assert native[0].stdout != native[1].stdout  # ports bound to 0: differ every run
    rec = str(tmp_path / "settlement.kpr")
    work = tmp_path / "rec"
    work.mkdir()
    recorded, answers, _ = run_service([*KPROBE, "record", "-q", "-o", rec, "--"], str(work))
    assert answers == [{"settled": True, "entry": 1}] and recorded.returncode == 0
    assert recorded.stdout.startswith(b"READY port="), recorded.stderr
    (work / "ledger.log").unlink()
    _assert_replays(rec, recorded, 10)
    _assert_replays(rec, recorded, 10, jitter_ms=0.2)

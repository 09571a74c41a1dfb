"""`kprobe serve`: processor + API in one process, as a user starts it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import grpc
import requests

from kprobe.v1 import causal_graph_pb2
from tests.api import dataset
from tests.api.clients import Stubs
from tests.api.conftest import wait_for


def _read_ports(proc: subprocess.Popen) -> tuple[int, int]:
    otlp = api = 0
    while not (otlp and api):
        line = proc.stdout.readline()
        assert line, f"kprobe serve exited: {proc.wait()}"
        if m := re.search(r"OTLP gRPC :(\d+)", line):
            otlp = int(m.group(1))
        if m := re.search(r"API listening on [\d.]+:(\d+)", line):
            api = int(m.group(1))
    return otlp, api


def test_kprobe_serve_end_to_end(tmp_path):
    env = dict(os.environ, KPROBE_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kprobe.cli", "serve", "--port", "0", "--otlp-grpc", "127.0.0.1:0",
         "--otlp-http", "127.0.0.1:0", "--graph-store", "memory://", "--graph-cache", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        otlp_port, api_port = _read_ports(proc)
        dataset.send(otlp_port)
        base = f"http://127.0.0.1:{api_port}"

        def verdict() -> bool:  # the join settles within a few ticks (no graph cache here)
            r = requests.get(f"{base}/api/v1/transactions/{dataset.FAILED}/root-cause", timeout=10)
            return r.status_code == 200 and r.json()["root_cause"]["mechanism"] == "memory-reclaim"

        wait_for(verdict, 60)
        with grpc.insecure_channel(f"127.0.0.1:{api_port}") as ch:
            g = Stubs(ch).graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(transaction_id=dataset.FAILED))
        assert g.root_cause.mechanism == "memory-reclaim" and g.root_cause.culprit.comm == "batch-job"
        assert (tmp_path / "clickhouse").is_dir()  # embedded default: chdb under KPROBE_DATA_DIR
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0

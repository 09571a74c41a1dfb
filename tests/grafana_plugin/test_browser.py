"""Browser tests in Debian's chromium (playwright-core) against `kprobe serve` holding a real
testbed capture of the memory-pressure incident (`kprobe demo`), with a real ptrace recording of
a failing payment in its recordings directory for the replay panel. The checks themselves are
node:test files in grafana_plugin/browser/; screenshots go to artifacts/grafana_plugin/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from .conftest import CHROMIUM, PLUGIN, ROOT, require_ok

pytestmark = pytest.mark.ebpf
ARTIFACTS = ROOT / "artifacts" / "grafana_plugin"
KPROBE = str(Path(sys.executable).parent / "kprobe")


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The seeds' story captured for real: eBPF receiver, processor, testbed with memory pressure."""
    if os.geteuid() != 0:
        pytest.skip("the testbed capture needs root (CAP_BPF, CAP_PERFMON, cgroups)")
    data = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([KPROBE, "demo", "--scenario", "memory-pressure", "--json", "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=420)
    require_ok(proc, "kprobe demo --scenario memory-pressure")
    report = json.loads(proc.stdout)
    assert report["transaction"]["status"] == "failed", report["transaction"]
    assert report["agreement"] == {"mechanism": True, "culprit": True}, report["agreement"]
    return {**report, "data_dir": data}


# The testbed's real settlement-svc (waitress, 32 workers, flock + write + fsync, OTel spans)
# answering one payment under payment-handler's 750 ms deadline, recorded under ptrace with its
# fsync made to take 800 ms (the handler reads its deadline from PAYMENT_TIMEOUT_MS).
PAYMENT = ROOT / "tests" / "replay" / "corpus" / "settlement_payment.py"
RECORDING = "payment-incident.kpr"


@pytest.fixture(scope="module")
def recordings(incident: dict) -> Path:
    directory = incident["data_dir"] / "recordings"
    directory.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "replay", "record", "-q", "-o", str(directory / RECORDING),
         "--inject", "fsync:delay_exit=800ms", "--", sys.executable, str(PAYMENT)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stderr  # the recorded payment failed
    assert "FAILED: settlement-svc did not answer within 750 ms" in proc.stdout
    return directory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(NamedTuple):
    url: str
    otlp_grpc_port: int


@pytest.fixture(scope="module")
def server(incident: dict, recordings: Path, console_built: Path) -> Iterator[Server]:
    port = _free_port()
    otlp_port = _free_port()
    log = (incident["data_dir"] / "serve.log").open("w")
    proc = subprocess.Popen(
        [KPROBE, "serve", "--storage", f"chdb://{incident['data_dir'] / 'clickhouse'}", "--port", str(port),
         "--otlp-grpc", f"127.0.0.1:{otlp_port}", "--otlp-http", f"127.0.0.1:{_free_port()}",
         "--graph-store", f"ladybug://{incident['data_dir'] / 'graph.lbug'}",
         "--recordings-dir", str(recordings), "--console-dir", str(console_built)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert proc.poll() is None, (incident["data_dir"] / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "kprobe serve did not become healthy in 90 s"
            time.sleep(0.3)
        yield Server(url, otlp_port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def run_browser_test(name: str, url: str, incident: dict) -> str:
    env = {
        **os.environ,
        "KPROBE_URL": url,
        "KPROBE_TXN": incident["transaction"]["id"],
        "KPROBE_MECHANISM": incident["root_cause"]["mechanism"],
        "KPROBE_CULPRIT_PID": str(incident["root_cause"]["culprit"]["pid"]),
        "KPROBE_ARTIFACTS": str(ARTIFACTS),
        "KPROBE_RECORDING": RECORDING,
        "KPROBE_TIMEOUT_ENV": "PAYMENT_TIMEOUT_MS",
        "CHROMIUM": CHROMIUM,
    }
    proc = subprocess.run(["node", "--test", "--test-reporter=spec", f"browser/{name}"], cwd=PLUGIN,
                          capture_output=True, text=True, timeout=420, env=env)
    require_ok(proc, f"browser/{name}")
    return proc.stdout


def test_console_shows_the_failed_payment_its_root_cause_and_timeline(server: Server, incident: dict) -> None:
    run_browser_test("console.test.mjs", server.url, incident)
    for name in ("console-graph", "console-timeline-write-reclaim", "console-drilldown"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000, name


def test_panels_mounted_with_panel_props_and_a_3000_node_graph(server: Server, incident: dict) -> None:
    out = run_browser_test("harness.test.mjs", server.url, incident)
    print(out)
    assert (ARTIFACTS / "harness-graph-3000-zoomed.png").is_file()


def test_replay_from_the_panel_changes_the_outcome_when_the_timeout_is_raised(server: Server, incident: dict) -> None:
    run_browser_test("replay.test.mjs", server.url, incident)
    assert (ARTIFACTS / "console-replay-timeout-raised.png").is_file()


def test_live_events_reach_the_data_source_through_the_websocket(server: Server, incident: dict) -> None:
    """Payments sent through the processor's real OTLP path while the page is subscribed."""
    from tests.api import dataset

    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            dataset.send(server.otlp_grpc_port)
            stop.wait(1.0)

    sender = threading.Thread(target=feed, daemon=True)
    sender.start()
    try:
        run_browser_test("live.test.mjs", server.url, incident)
    finally:
        stop.set()
        sender.join(timeout=60)

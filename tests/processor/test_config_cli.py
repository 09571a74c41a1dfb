"""Configuration layering and the `kprobe processor` command as a real subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from causal_processor import config

KPROBE = [sys.executable, "-c", "import sys; from kprobe.cli import main; sys.exit(main())"]


def test_defaults_yaml_then_environment(tmp_path):
    cfg = config.load(None, env={})
    assert (cfg.otlp.grpc_endpoint, cfg.otlp.http_endpoint) == ("0.0.0.0:4317", "0.0.0.0:4318")
    assert cfg.storage.dsn.startswith("chdb:///") and "payment.id" in cfg.join.transaction_keys
    f = tmp_path / "p.yaml"
    f.write_text("storage: {dsn: 'http://ch:8123/kp', retention_days: 7}\n"
                 "join: {transaction_keys: [order.ref], window_s: 2.5}\nforward: {endpoint: 'tempo:4317'}\n")
    cfg = config.load(str(f), env={"KPROBE_PROCESSOR_JOIN__WINDOW_S": "9",
                                   "KPROBE_PROCESSOR_JOIN__TRANSACTION_KEYS": "a.id, b.id",
                                   "KPROBE_PROCESSOR_FORWARD__INSECURE": "false"})
    assert cfg.storage.dsn == "http://ch:8123/kp" and cfg.storage.retention_days == 7
    assert cfg.join.window_s == 9.0 and cfg.join.transaction_keys == ["a.id", "b.id"]
    assert cfg.forward.endpoint == "tempo:4317" and cfg.forward.insecure is False
    assert cfg.join.join_config().window_ns == 9_000_000_000
    cfg = config.load(None, env={"KPROBE_PROCESSOR_FORWARD__HEADERS": "Authorization=Basic abc, x-scope-orgid=t1"})
    assert cfg.forward.metadata() == [("authorization", "Basic abc"), ("x-scope-orgid", "t1")]


@pytest.mark.parametrize(("text", "env", "message"), [
    ("storage: {dns: x}", {}, "storage.dns: unknown setting"),
    ("join: {window_s: soon}", {}, "join.window_s: 'soon' is not a valid float"),
    ("- a list", {}, "expected a mapping at the top"),
    ("", {"KPROBE_PROCESSOR_OTLP__WORKERS": "many"}, "otlp.workers: 'many' is not a valid int"),
])
def test_bad_configuration_is_one_clear_line(tmp_path, text, env, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.load(str(f), env=env)


def test_kprobe_processor_command(tmp_path):
    proc = subprocess.Popen(
        [*KPROBE, "processor", "--storage", f"chdb://{tmp_path}/ch",
         "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--transaction-key", "payment.id"],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, KPROBE_PROCESSOR_JOIN__WINDOW_S="0.05"))
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "OTLP gRPC" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        m = re.search(r"OTLP gRPC :(\d+), HTTP :(\d+)", line)
        assert m, line
        http = int(m.group(2))
        provider = TracerProvider(resource=Resource.create({"service.name": "cli-test"}))
        provider.add_span_processor(SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=f"http://127.0.0.1:{http}/v1/traces")))
        with provider.get_tracer("t").start_as_current_span("pay", attributes={"payment.id": "c-1"}):
            pass
        provider.shutdown()
        metrics = requests.get(f"http://127.0.0.1:{http}/metrics", timeout=10).text
        assert 'kprobe_processor_spans_received_total{kind="app"} 1.0' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_kprobe_processor_storage_error_is_one_line(tmp_path):
    r = subprocess.run([*KPROBE, "processor", "--storage", "mysql://x"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("kprobe: unsupported ClickHouse DSN 'mysql://x'")

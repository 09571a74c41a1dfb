"""`kprobe explain` on a real chdb store, text and JSON, and its one-line errors."""

from __future__ import annotations

import json

from kprobe.cli import main
from tests.causal.handbuilt import BATCH, TXN, memory_story
from tests.causal.test_clickhouse_graph import _store_with


def test_explain_prints_the_story_and_json(dsn, capsys) -> None:
    store = _store_with(dsn, *memory_story())
    try:
        assert main(["explain", TXN, "--store", dsn]) == 0
        text = capsys.readouterr().out
        assert "[KERNEL: memory-reclaim" in text and f"batch-job pid {BATCH}" in text
        assert "TIMEOUT: payment-handler exceeded 750 ms threshold" in text
        assert "Root cause: memory-reclaim" in text
        assert main(["explain", TXN, "--store", dsn, "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["transaction_id"] == TXN and doc["status"] == "ERROR"
        assert doc["root_cause"]["mechanism"] == "memory-reclaim"
        assert doc["root_cause"]["culprit"]["pid"] == BATCH
        assert sum(s["latency_contribution_ns"] for s in doc["chain"][1:2]) == doc["end_to_end_latency_ns"]
        assert doc["graph"]["nodes"] and doc["graph"]["edges"]
        assert main(["explain", "nope", "--store", dsn]) == 2
        err = capsys.readouterr().err
        assert err.strip() == "kprobe: unknown transaction 'nope': no spans and no kernel events"
    finally:
        store.close()

"""Contract tests: every GraphStore (memory, Ladybug, Neo4j when NEO4J_URI is set)
stores and answers the same way for the same explained transactions."""

from __future__ import annotations

import os

import pytest

from causal_processor.causal.explain import explain
from causal_processor.causal.source import MemorySource
from causal_processor.graphstore import GraphStoreError, open_graph_store, record_from
from causal_processor.graphstore.base import DOWNSTREAM, UPSTREAM
from tests.causal.handbuilt import (
    BATCH,
    HOG,
    MS,
    RISK,
    T0,
    as_transaction,
    cpu_story,
    healthy_story,
    memory_story,
    slow_dependency_story,
)

# (txn id, story, shift in ms): three memory-pressure failures, one CPU, one slow dependency, one healthy
TRANSACTIONS = [
    ("mem-1", memory_story, 0.0),
    ("mem-2", memory_story, 5_000.0),
    ("mem-3", memory_story, 10_000.0),
    ("cpu-1", cpu_story, 15_000.0),
    ("slow-1", slow_dependency_story, 20_000.0),
    ("ok-1", healthy_story, 25_000.0),
]


@pytest.fixture(scope="module")
def explanations():
    out = {}
    for txn, story, shift in TRANSACTIONS:
        evs, spans = as_transaction(*story(), txn, shift)
        out[txn] = explain(MemorySource(evs, spans), txn)
    return out


def _stores():
    yield "memory"
    yield "ladybug"
    yield pytest.param("neo4j", marks=pytest.mark.skipif(
        not os.environ.get("NEO4J_URI"), reason="NEO4J_URI not set: no Neo4j server to test against"))


@pytest.fixture(params=list(_stores()))
def store(request, tmp_path):
    if request.param == "memory":
        s = open_graph_store("memory://")
    elif request.param == "ladybug":
        s = open_graph_store(f"ladybug://{tmp_path}/graph.lbug")
    else:
        s = open_graph_store(os.environ["NEO4J_URI"])
    yield s
    s.close()


@pytest.fixture
def filled(store, explanations):
    for x in explanations.values():
        store.write(record_from(x))
    return store


def _edge_set(edges):
    return {(e["source"], e["target"], e["relation"], e["latency_contribution_ns"], e["on_critical_path"])
            for e in edges}


def test_graph_round_trip(filled, explanations) -> None:
    for txn, x in explanations.items():
        rec = record_from(x)
        got = filled.graph(txn)
        assert got is not None
        assert {n["id"] for n in got.nodes} == {n["id"] for n in rec.nodes}
        assert _edge_set(got.edges) == _edge_set(rec.edges)
        assert got.transaction["root_mechanism"] == x.root_cause.mechanism
        assert got.transaction["duration_ns"] == x.end_to_end_ns
        share = {(e["source"], e["target"]): e["share"] for e in got.edges}
        assert share == pytest.approx({(e["source"], e["target"]): e["share"] for e in rec.edges})


def test_writes_are_idempotent_and_replace(filled, explanations) -> None:
    x = explanations["mem-1"]
    filled.write(record_from(x))
    filled.write(record_from(x))
    got = filled.graph("mem-1")
    assert len(got.edges) == len(record_from(x).edges)
    # the same transaction re-explained with another graph: nothing stale remains
    evs, spans = as_transaction(*healthy_story(), "mem-1", 0.0)
    y = explain(MemorySource(evs, spans), "mem-1")
    filled.write(record_from(y))
    got = filled.graph("mem-1")
    assert _edge_set(got.edges) == _edge_set(record_from(y).edges)
    assert {n["id"] for n in got.nodes} == {n["id"] for n in record_from(y).nodes}
    assert "mem-1" not in {t["id"] for t in filled.transactions_hit_by(pid=BATCH)}


def test_chain_from_transaction_to_root_cause(filled, explanations) -> None:
    for txn, x in explanations.items():
        assert [n["id"] for n in filled.chain(txn)] == [s.node_id for s in x.chain]
    chain = filled.chain("mem-2")
    assert chain[0]["kind"] == "transaction" and chain[-1]["id"] == f"proc:{BATCH}"
    assert [n["kind"] for n in filled.chain("ok-1")] == ["transaction"]


def test_upstream_and_downstream(filled, explanations) -> None:
    nodes, edges = filled.traverse("txn:mem-3", UPSTREAM, txn_id="mem-3")
    ids = {n["id"] for n in nodes}
    assert f"proc:{BATCH}" in ids and "span:mem-3-c2" in ids
    assert all(e["txn"] == "mem-3" for e in edges)
    # one hop upstream of the ledger span: its cause(s) only
    nodes, edges = filled.traverse("span:mem-3-c2", UPSTREAM, max_depth=1, txn_id="mem-3")
    assert {e["target"] for e in edges} == {"span:mem-3-c2"}
    # downstream from the culprit reaches every transaction it hurt
    nodes, edges = filled.traverse(f"proc:{BATCH}", DOWNSTREAM)
    assert {"txn:mem-1", "txn:mem-2", "txn:mem-3"} <= {n["id"] for n in nodes}
    assert filled.traverse("nope", UPSTREAM) == ([], [])
    with pytest.raises(ValueError, match="direction"):
        filled.traverse("txn:mem-1", "sideways")


def test_transactions_hit_by_a_culprit(filled) -> None:
    hit = filled.transactions_hit_by(pid=BATCH)
    assert [t["id"] for t in hit] == ["mem-3", "mem-2", "mem-1"]
    assert all(t["root_mechanism"] == "memory-reclaim" and t["root_comm"] == "batch-job" for t in hit)
    assert [t["id"] for t in filled.transactions_hit_by(mechanism="cpu-contention")] == ["cpu-1"]
    assert [t["id"] for t in filled.transactions_hit_by(pid=HOG)] == ["cpu-1"]
    assert [t["id"] for t in filled.transactions_hit_by(service="risk-check")] == ["slow-1"]
    window = filled.transactions_hit_by(pid=BATCH, start_ns=T0 + 4_000 * MS, end_ns=T0 + 9_000 * MS)
    assert [t["id"] for t in window] == ["mem-2"]
    assert filled.transactions_hit_by(pid=BATCH, limit=1)[0]["id"] == "mem-3"
    assert filled.transactions_hit_by(comm="nobody") == []


def test_top_root_causes(filled, explanations) -> None:
    top = filled.top_root_causes()
    assert [(t["mechanism"], t["pid"], t["transactions"]) for t in top] == [
        ("memory-reclaim", BATCH, 3), ("downstream-latency", RISK, 1), ("cpu-contention", HOG, 1)]
    mem = explanations["mem-1"].root_cause.contribution_ns
    assert top[0]["contribution_ns"] == 3 * mem
    assert len(filled.top_root_causes(limit=1)) == 1
    assert filled.top_root_causes(start_ns=T0 + 30_000 * MS) == []


def test_unknown_transaction(store) -> None:
    assert store.graph("nope") is None
    assert store.chain("nope") == []


def test_bad_urls_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(GraphStoreError, match="unsupported graph store URL"):
        open_graph_store("ftp://x")
    with pytest.raises(GraphStoreError, match="cannot reach Neo4j"):
        open_graph_store("bolt://127.0.0.1:1")
    first = open_graph_store(f"ladybug://{tmp_path}/g.lbug")
    try:
        import subprocess
        import sys

        code = ("from causal_processor.graphstore import open_graph_store, GraphStoreError\n"
                f"try:\n    open_graph_store('ladybug://{tmp_path}/g.lbug')\n"
                "except GraphStoreError as e:\n    print('ERR', e)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.stdout.startswith("ERR cannot open the embedded graph store")
    finally:
        first.close()

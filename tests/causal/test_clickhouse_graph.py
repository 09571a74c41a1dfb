"""Causal graphs in ClickHouse (real chdb) for Grafana's Node Graph panel, and
`explain` reading a transaction back from the processor's store."""

from __future__ import annotations

import pytest

from causal_processor.causal.explain import explain
from causal_processor.causal.source import MemorySource
from causal_processor.graphstore import record_from
from causal_processor.graphstore.clickhouse import ClickHouseGraphTables
from causal_processor.storage.clickhouse import connect
from tests.causal.handbuilt import BATCH, TXN, healthy_story, memory_story


@pytest.fixture
def client(dsn):
    c = connect(dsn)
    yield c
    c.close()


def test_node_graph_frames(client) -> None:
    x = explain(MemorySource(*memory_story()), TXN)
    tables = ClickHouseGraphTables(client)
    rec = record_from(x)
    tables.write(rec)
    nodes, edges = tables.node_graph(TXN)
    assert {n["id"] for n in nodes} == {n["id"] for n in rec.nodes}
    assert len(edges) == len(rec.edges)
    assert {"id", "title", "subtitle", "mainstat", "secondarystat", "color", "arc__critical", "arc__other"} <= set(nodes[0])
    assert {"id", "source", "target", "mainstat", "thickness", "detail__relation"} <= set(edges[0])
    ids = {n["id"] for n in nodes}
    assert all(e["source"] in ids and e["target"] in ids for e in edges)
    culprit = next(n for n in nodes if n["id"] == f"proc:{BATCH}")
    assert culprit["detail__comm"] == "batch-job" and culprit["detail__kind"] == "process"
    pressure = next(e for e in edges if e["source"] == f"proc:{BATCH}")
    assert pressure["detail__relation"] == "memory-pressure" and pressure["detail__inferred"]
    txn = next(n for n in nodes if n["detail__kind"] == "transaction")
    assert txn["arc__critical"] == 1.0
    # re-explained with another graph: only the newest version is read
    y = explain(MemorySource(*healthy_story()), TXN)
    tables.write(record_from(y))
    nodes, edges = tables.node_graph(TXN)
    assert {n["id"] for n in nodes} == {n["id"] for n in record_from(y).nodes}
    assert tables.node_graph("nope") == ([], [])


def _store_with(dsn, evs, spans):
    from opentelemetry.proto.trace.v1 import trace_pb2

    from causal_processor.storage.records import Transaction, span_row
    from causal_processor.storage.store import ClickHouseEventStore

    store = ClickHouseEventStore(dsn)
    rows = []
    for s in spans:
        sp = trace_pb2.Span(trace_id=bytes.fromhex(s["trace_id"]), span_id=bytes.fromhex(s["span_id"].encode().hex()[:16].ljust(16, "0")),
                            name=s["name"], start_time_unix_nano=s["start_ns"], end_time_unix_nano=s["end_ns"])
        rows.append((s, sp))
    ids = {s["span_id"]: sp.span_id for s, sp in rows}
    out_rows = []
    for s, sp in rows:
        if s["parent_span_id"]:
            sp.parent_span_id = ids[s["parent_span_id"]]
        sp.kind = {"SERVER": trace_pb2.Span.SPAN_KIND_SERVER, "CLIENT": trace_pb2.Span.SPAN_KIND_CLIENT}.get(
            s["kind"].rsplit("_", 1)[-1], trace_pb2.Span.SPAN_KIND_INTERNAL)
        if s["status"] == "ERROR":
            sp.status.code = trace_pb2.Status.STATUS_CODE_ERROR
        from kprobe.otlp import kv

        sp.attributes.extend([kv(k, v) for k, v in s["attributes"].items()])
        if s["transaction_id"]:
            sp.attributes.append(kv("transaction.id", s["transaction_id"]))
        res = {"service.name": s["service"], "process.pid": str(s["pid"])}
        out_rows.append(span_row(sp, res, "test", "1"))
    store.write_span_rows(out_rows)
    for e in evs:  # span ids as the join writes them: the app span's hex id
        ctx = e["financial_context"]
        if ctx.get("span_id"):
            ctx["span_id"] = ids[ctx["span_id"]].hex()
    store.write_events(evs)
    store.write_contexts([(e, e["financial_context"]) for e in evs if e["financial_context"]["transaction_id"]])
    root = next(s for s in spans if not s["parent_span_id"])
    store.write_transactions([Transaction(TXN, root["trace_id"], ids[root["span_id"]].hex(), root["service"],
                                          root["name"], "error", root["start_ns"], root["end_ns"] - root["start_ns"])])
    return store


def test_explain_reads_the_processor_store(dsn) -> None:
    from causal_processor.causal.store_source import StoreSource

    evs, spans = memory_story()
    expected = explain(MemorySource(evs, spans), TXN)
    store = _store_with(dsn, evs, spans)
    try:
        got = explain(StoreSource(store), TXN)
        assert got.root_cause.mechanism == expected.root_cause.mechanism == "memory-reclaim"
        assert got.root_cause.culprit.pid == BATCH
        assert got.root_cause.contribution_ns == expected.root_cause.contribution_ns
        assert got.end_to_end_ns == expected.end_to_end_ns
        assert [s.relation for s in got.chain] == [s.relation for s in expected.chain]
        with pytest.raises(LookupError, match="unknown transaction"):
            explain(StoreSource(store), "nope")
    finally:
        store.close()

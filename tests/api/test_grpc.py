"""Every kprobe.v1 method over real gRPC (through the :8080 front listener)."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from causal_processor.api.graph_index import GraphIndexer
from kprobe import events, otlp
from kprobe.v1 import (
    api_common_pb2,
    causal_graph_pb2,
    events_pb2,
    replay_pb2,
    search_pb2,
    timeline_pb2,
)
from tests.api import dataset
from tests.api.clients import Stubs, assert_same_graph, kprobe_explain, rpc_error
from tests.api.conftest import wait_for

MS = 1_000_000


@pytest.fixture(scope="module")
def channel(env):
    ch = grpc.insecure_channel(f"127.0.0.1:{env.port}")
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def stubs(channel) -> Stubs:
    return Stubs(channel)


@pytest.fixture(scope="module")
def explained(env) -> dict:
    return kprobe_explain(env.dsn, dataset.FAILED)


def test_causal_graph_equals_kprobe_explain(stubs, explained):
    g = stubs.graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(transaction_id=dataset.FAILED))
    assert_same_graph(g, explained)
    assert g.root_cause.mechanism == "memory-reclaim"
    assert (g.root_cause.culprit.pid, g.root_cause.culprit.comm) == (dataset.BATCH, "batch-job")
    assert g.end_to_end_latency_ns == 760 * MS
    assert g.transaction.status == api_common_pb2.TRANSACTION_STATUS_ERROR
    assert g.transaction.service == "payment-handler"


def test_graph_with_events_and_root_cause(env, stubs):
    g = stubs.graph.GetCausalGraph(
        causal_graph_pb2.GetCausalGraphRequest(transaction_id=dataset.FAILED, include_events=True))
    own = {e["event_id"] for e in env.store.transaction_events(dataset.FAILED)}
    kernel = [n for n in g.nodes if n.kind == causal_graph_pb2.NODE_KIND_KERNEL_EVENT and n.event_id in own]
    assert kernel and all(n.event.event_id == n.event_id for n in kernel)
    r = stubs.graph.GetRootCause(causal_graph_pb2.GetRootCauseRequest(transaction_id=dataset.FAILED))
    assert r.root_cause == g.root_cause and list(r.chain) == list(g.chain) and r.transaction == g.transaction


def test_cached_graph_is_served_as_a_copy(stubs):
    req = causal_graph_pb2.GetCausalGraphRequest(transaction_id=dataset.FAILED)
    with_events = stubs.graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(
        transaction_id=dataset.FAILED, include_events=True))
    plain = stubs.graph.GetCausalGraph(req)
    assert any(n.HasField("event") for n in with_events.nodes)
    assert not any(n.HasField("event") for n in plain.nodes)
    assert plain == stubs.graph.GetCausalGraph(req)


def test_traverse_upstream_and_downstream(stubs):
    g = stubs.graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(transaction_id=dataset.FAILED))
    txn_node, cause_node = g.chain[0].node_id, g.root_cause.node_id
    up = stubs.graph.Traverse(causal_graph_pb2.TraverseRequest(
        transaction_id=dataset.FAILED, node_id=txn_node, direction=causal_graph_pb2.TRAVERSAL_DIRECTION_UPSTREAM))
    assert {s.node_id for s in g.chain} <= {n.id for n in up.nodes}
    down = stubs.graph.Traverse(causal_graph_pb2.TraverseRequest(
        transaction_id=dataset.FAILED, node_id=cause_node, direction=causal_graph_pb2.TRAVERSAL_DIRECTION_DOWNSTREAM))
    assert txn_node in {n.id for n in down.nodes}
    one = stubs.graph.Traverse(causal_graph_pb2.TraverseRequest(
        transaction_id=dataset.FAILED, node_id=txn_node, max_depth=1,
        direction=causal_graph_pb2.TRAVERSAL_DIRECTION_UPSTREAM))
    assert {n.id for n in one.nodes} == {txn_node} | {e.source for e in g.edges if e.target == txn_node}
    assert all(e.target == txn_node for e in one.edges)
    kernel = next(n for n in g.nodes if n.event_id and n.kind == causal_graph_pb2.NODE_KIND_KERNEL_EVENT)
    by_event = stubs.graph.Traverse(causal_graph_pb2.TraverseRequest(
        transaction_id=dataset.FAILED, event_id=kernel.event_id,
        direction=causal_graph_pb2.TRAVERSAL_DIRECTION_DOWNSTREAM))
    assert kernel.id in {n.id for n in by_event.nodes}
    assert all(n.id == kernel.id or n.id in {e.target for e in by_event.edges} for n in by_event.nodes)


def test_transaction_timeline_pages_and_spans(env, stubs):
    want = [e["event_id"] for e in env.store.transaction_events(dataset.FAILED)]
    assert len(want) == len(set(want)) > 20
    got, token, first = [], "", None
    while True:
        page = stubs.timeline.GetTransactionTimeline(timeline_pb2.GetTransactionTimelineRequest(
            transaction_id=dataset.FAILED, include_spans=True,
            page=api_common_pb2.PageRequest(page_size=7, page_token=token)))
        first = first or page
        assert len(page.events) <= 7
        got += [e.event_id for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert got == want
    assert first.transaction.kernel_event_count == len(want)
    assert sorted(s.name for s in first.spans) == ["POST /pay", "POST /settle", "POST settlement", "ledger.write"]
    writes = stubs.timeline.GetTransactionTimeline(timeline_pb2.GetTransactionTimelineRequest(
        transaction_id=dataset.FAILED, event_types=[events_pb2.SyscallWrite]))
    assert [(e.event_type, e.fd, e.bytes) for e in writes.events] == [(events_pb2.SyscallWrite, 7, 4096)]
    ts = [e.timestamp_ns for e in stubs.timeline.GetTransactionTimeline(
        timeline_pb2.GetTransactionTimelineRequest(transaction_id=dataset.FAILED)).events]
    assert ts == sorted(ts)


def _window(env) -> api_common_pb2.TimeRange:
    t0 = env.incident.t0
    return api_common_pb2.TimeRange(start_ns=t0 - 2000 * MS, end_ns=t0 + 5000 * MS)


@pytest.mark.parametrize("method", ["timeline", "search"])
def test_events_by_process_type_and_time_exact(env, stubs, method):
    flt = api_common_pb2.EventFilter(pids=[dataset.BATCH], event_types=[events_pb2.PageFault])
    sent = sorted((e["timestamp_ns"], e["event_id"]) for e in env.incident.events
                  if e["pid"] == dataset.BATCH and e["event_type"] == "PageFault")
    assert len(sent) == 1000
    got, token = [], ""
    while True:
        page_req = api_common_pb2.PageRequest(page_size=300, page_token=token)
        if method == "timeline":
            page = stubs.timeline.GetEvents(timeline_pb2.GetEventsRequest(time_range=_window(env), filter=flt, page=page_req))
        else:
            page = stubs.search.SearchEvents(search_pb2.SearchEventsRequest(time_range=_window(env), filter=flt, page=page_req))
        got += [(e.timestamp_ns, e.event_id) for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert got == sent


def test_event_filters_comm_and_transaction(env, stubs):
    flt = api_common_pb2.EventFilter(comms=["settlement-svc"], event_types=[events_pb2.TCPRecv, events_pb2.TCPSend])
    page = stubs.timeline.GetEvents(timeline_pb2.GetEventsRequest(time_range=_window(env), filter=flt))
    sent = sorted(e["event_id"] for e in env.incident.events
                  if e["comm"] == "settlement-svc" and e["event_type"] in ("TCPRecv", "TCPSend"))
    assert sorted(e.event_id for e in page.events) == sent and len(sent) == 4
    flt = api_common_pb2.EventFilter(transaction_ids=[dataset.HEALTHY])
    page = stubs.timeline.GetEvents(timeline_pb2.GetEventsRequest(time_range=_window(env), filter=flt))
    assert sorted(e.event_id for e in page.events) == sorted(
        e["event_id"] for e in env.store.transaction_events(dataset.HEALTHY))


def test_search_transactions(env, stubs):
    def ids(**kw) -> list[str]:
        r = stubs.search.SearchTransactions(search_pb2.SearchTransactionsRequest(time_range=_window(env), **kw))
        return [t.transaction_id for t in r.transactions]

    assert ids() == [dataset.HEALTHY, dataset.FAILED]  # newest first
    assert ids(status=api_common_pb2.TRANSACTION_STATUS_ERROR) == [dataset.FAILED]
    assert ids(status=api_common_pb2.TRANSACTION_STATUS_OK) == [dataset.HEALTHY]
    assert ids(min_latency_ns=100 * MS) == [dataset.FAILED]
    assert ids(max_latency_ns=100 * MS) == [dataset.HEALTHY]
    assert ids(services=["payment-handler"]) == [dataset.HEALTHY, dataset.FAILED]
    assert ids(services=["settlement-svc"]) == []
    assert ids(transaction_id=dataset.FAILED) == [dataset.FAILED]
    assert ids(transaction_id=dataset.FAILED, status=api_common_pb2.TRANSACTION_STATUS_OK) == []
    first = stubs.search.SearchTransactions(search_pb2.SearchTransactionsRequest(
        time_range=_window(env), page=api_common_pb2.PageRequest(page_size=1)))
    second = stubs.search.SearchTransactions(search_pb2.SearchTransactionsRequest(
        time_range=_window(env), page=api_common_pb2.PageRequest(page_size=1, page_token=first.next_page_token)))
    assert [t.transaction_id for t in (*first.transactions, *second.transactions)] == [dataset.HEALTHY, dataset.FAILED]
    assert not second.next_page_token
    t = first.transactions[0]
    assert (t.service, t.operation, t.status, t.duration_ns) == (
        "payment-handler", "POST /pay", api_common_pb2.TRANSACTION_STATUS_OK, 15 * MS)


def test_live_stream_filter_is_exact(env, stubs):
    flt = api_common_pb2.EventFilter(event_types=[events_pb2.SyscallWrite], pids=[7001])
    call = stubs.timeline.StreamEvents(timeline_pb2.StreamEventsRequest(filter=flt))
    received: list[timeline_pb2.LiveMessage] = []

    def read() -> None:
        try:
            for m in call:
                received.append(m)
        except grpc.RpcError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: env.api.server.backends.hub.subscribers >= 1)
    now = time.time_ns()
    sent = [events.make_event(t, pid=pid, tid=pid + 1, timestamp_ns=now + i * 1000, fd=3, bytes=i, ret=i)
            for i, (t, pid) in enumerate([(t, p) for t in ("SyscallWrite", "SyscallRead") for p in (7001, 7002)] * 5)]
    with grpc.insecure_channel(f"127.0.0.1:{env.running.grpc_port}") as ch:
        trace_service_pb2_grpc.TraceServiceStub(ch).Export(otlp.events_to_request(sent, {}), timeout=10)
    want = [e["event_id"] for e in sent if e["event_type"] == "SyscallWrite" and e["pid"] == 7001]
    wait_for(lambda: len(received) >= len(want))
    time.sleep(0.3)  # nothing else may arrive
    call.cancel()
    reader.join(5)
    assert [m.event.event_id for m in received] == want
    assert [m.sequence for m in received] == list(range(1, len(want) + 1))


def test_health_and_reflection(channel):
    h = health_pb2_grpc.HealthStub(channel)
    assert h.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    assert h.Check(health_pb2.HealthCheckRequest(service="kprobe.v1.CausalGraphService")).status == \
        health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    resp = next(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in resp.list_services_response.service}
    assert {"kprobe.v1.CausalGraphService", "kprobe.v1.TimelineService", "kprobe.v1.ReplayService",
            "kprobe.v1.SearchService", "grpc.health.v1.Health"} <= names


BAD_REQUESTS = [
    ("graph.GetCausalGraph", causal_graph_pb2.GetCausalGraphRequest(), "transaction_id is required"),
    ("graph.GetRootCause", causal_graph_pb2.GetRootCauseRequest(transaction_id=" "), "transaction_id is required"),
    ("graph.Traverse", causal_graph_pb2.TraverseRequest(transaction_id=dataset.FAILED, node_id="txn:x"), "direction"),
    ("graph.Traverse", causal_graph_pb2.TraverseRequest(
        transaction_id=dataset.FAILED, direction=causal_graph_pb2.TRAVERSAL_DIRECTION_UPSTREAM), "start is required"),
    ("timeline.GetTransactionTimeline", timeline_pb2.GetTransactionTimelineRequest(
        transaction_id=dataset.FAILED, page=api_common_pb2.PageRequest(page_size=10_001)), "exceeds the maximum"),
    ("timeline.GetTransactionTimeline", timeline_pb2.GetTransactionTimelineRequest(
        transaction_id=dataset.FAILED, page=api_common_pb2.PageRequest(page_token="garbage!")), "page_token"),
    ("timeline.GetEvents", timeline_pb2.GetEventsRequest(
        time_range=api_common_pb2.TimeRange(start_ns=20, end_ns=10)), "time_range"),
    ("timeline.GetEvents", timeline_pb2.GetEventsRequest(
        filter=api_common_pb2.EventFilter(event_types=[0])), "not an event type"),
    ("search.SearchTransactions", search_pb2.SearchTransactionsRequest(
        min_latency_ns=10, max_latency_ns=5), "exceeds max_latency_ns"),
    ("search.SearchEvents", search_pb2.SearchEventsRequest(
        filter=api_common_pb2.EventFilter(services=[""])), "empty string"),
]


@pytest.mark.parametrize(("method", "request_msg", "reason"), BAD_REQUESTS, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(BAD_REQUESTS)])
def test_invalid_argument_with_reason(stubs, method, request_msg, reason):
    svc, name = method.split(".")
    e = rpc_error(getattr(getattr(stubs, svc), name), request_msg)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in e.details()


def test_page_token_of_another_query_is_rejected(env, stubs):
    page = stubs.search.SearchTransactions(search_pb2.SearchTransactionsRequest(
        time_range=_window(env), page=api_common_pb2.PageRequest(page_size=1)))
    e = rpc_error(stubs.timeline.GetEvents, timeline_pb2.GetEventsRequest(
        page=api_common_pb2.PageRequest(page_token=page.next_page_token)))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "does not belong" in e.details()


@pytest.mark.parametrize("call", [
    lambda s: s.graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(transaction_id="pay-unknown")),
    lambda s: s.graph.GetRootCause(causal_graph_pb2.GetRootCauseRequest(transaction_id="pay-unknown")),
    lambda s: s.timeline.GetTransactionTimeline(timeline_pb2.GetTransactionTimelineRequest(transaction_id="pay-unknown")),
    lambda s: s.graph.Traverse(causal_graph_pb2.TraverseRequest(
        transaction_id=dataset.FAILED, node_id="span:nope", direction=causal_graph_pb2.TRAVERSAL_DIRECTION_UPSTREAM)),
], ids=["graph", "root-cause", "timeline", "traverse-node"])
def test_unknown_transaction_is_not_found(stubs, call):
    e = rpc_error(call, stubs)
    assert e.code() == grpc.StatusCode.NOT_FOUND
    assert "pay-unknown" in e.details() or "span:nope" in e.details()


def test_causal_chains_by_culprit_and_mechanism(env, stubs):
    indexer = GraphIndexer(env.store, env.api.server.backends.analyzer)
    assert indexer.index_new() == 1 and indexer.index_new() == 0  # the healthy 15 ms payment is skipped
    everything = GraphIndexer(env.store, env.api.server.backends.analyzer, min_latency_ms=0)
    assert everything.index_new() == 2
    window = _window(env)

    def chains(**kw) -> list[search_pb2.CausalChainMatch]:
        return list(stubs.search.SearchCausalChains(search_pb2.SearchCausalChainsRequest(time_range=window, **kw)).matches)

    (m,) = chains(mechanism="memory-reclaim")
    assert m.transaction.transaction_id == dataset.FAILED
    assert (m.root_cause.culprit.pid, m.root_cause.culprit.comm) == (dataset.BATCH, "batch-job")
    g = stubs.graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(transaction_id=dataset.FAILED))
    assert m.root_cause.contribution_ns == g.root_cause.contribution_ns
    assert [s.node_id for s in m.chain] == [s.node_id for s in g.chain]
    assert [x.transaction.transaction_id for x in chains(culprit=api_common_pb2.Culprit(pid=dataset.BATCH))] == [dataset.FAILED]
    assert chains(culprit=api_common_pb2.Culprit(comm="no-such-process")) == []
    assert chains(mechanism="disk-io") == []
    (top,) = stubs.search.TopRootCauses(search_pb2.TopRootCausesRequest(time_range=window)).causes
    assert (top.mechanism, top.culprit.pid, top.transactions, top.total_contribution_ns) == (
        "memory-reclaim", dataset.BATCH, 1, g.root_cause.contribution_ns)


def test_unwired_replay_says_so(stubs):
    e = rpc_error(stubs.replay.CreateSession, replay_pb2.CreateReplaySessionRequest(transaction_id=dataset.FAILED))
    assert e.code() == grpc.StatusCode.UNIMPLEMENTED and "no recordings directory" in e.details()

"""Client helpers shared by the API tests (real grpcio channels, JSON over HTTP)."""

from __future__ import annotations

import contextlib
import io
import json

import grpc
from google.protobuf import json_format

from kprobe import cli
from kprobe.v1 import (
    causal_graph_pb2_grpc,
    replay_pb2_grpc,
    search_pb2_grpc,
    timeline_pb2_grpc,
)


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.graph = causal_graph_pb2_grpc.CausalGraphServiceStub(channel)
        self.timeline = timeline_pb2_grpc.TimelineServiceStub(channel)
        self.replay = replay_pb2_grpc.ReplayServiceStub(channel)
        self.search = search_pb2_grpc.SearchServiceStub(channel)


def as_dict(msg) -> dict:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    raise AssertionError("the call succeeded")


def kprobe_explain(dsn: str, transaction_id: str) -> dict:
    """`kprobe explain --json` run through the real CLI on the same store."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["explain", transaction_id, "--json", "--store", dsn]) == 0
    return json.loads(out.getvalue())


def assert_same_graph(served, explained: dict) -> None:
    """The API's CausalGraph says what `kprobe explain --json` says: nodes, edges with
    their contributions, root cause, chain, story."""
    got = as_dict(served)
    want_nodes = {n["id"]: n for n in explained["graph"]["nodes"]}
    got_nodes = {n["id"]: n for n in got.get("nodes", [])}
    assert set(got_nodes) == set(want_nodes)
    for nid, n in want_nodes.items():
        g = got_nodes[nid]
        assert g["kind"] == "NODE_KIND_" + n["kind"].upper()
        assert (g.get("label", ""), int(g.get("start_ns", 0)), int(g.get("duration_ns", 0))) == (
            n["label"], n["start_ns"], n["duration_ns"])
        assert (g.get("pid", 0), g.get("comm", ""), g.get("event_type", "")) == (n["pid"], n["comm"], n["event_type"] or "")
        assert int(g.get("event_id", 0)) == n["event_id"]
        assert g.get("on_critical_path", False) == n["on_critical_path"]
    key = lambda e: (e["source"], e["target"], e["relation"])  # noqa: E731
    want_edges = {key(e): e for e in explained["graph"]["edges"]}
    got_edges = {key(e): e for e in got.get("edges", [])}
    assert set(got_edges) == set(want_edges)
    for k, e in want_edges.items():
        assert int(got_edges[k].get("latency_contribution_ns", 0)) == e["latency_contribution_ns"]
        assert got_edges[k].get("inferred", False) == e["inferred"]
    rc = explained["root_cause"]
    assert served.root_cause.mechanism == rc["mechanism"]
    if rc["culprit"]:
        assert (served.root_cause.culprit.pid, served.root_cause.culprit.comm) == (rc["culprit"]["pid"], rc["culprit"]["comm"])
    assert served.root_cause.contribution_ns == rc["contribution_ns"]
    assert [s.node_id for s in served.chain] == [s["node_id"] for s in explained["chain"]]
    assert list(served.story) == explained["story"]
    assert served.end_to_end_latency_ns == explained["end_to_end_latency_ns"]

"""JSON over HTTP, gRPC-Web and the console hook, on the same port as gRPC."""

from __future__ import annotations

import base64

import grpc
import pytest
import requests

from causal_processor.api import grpcweb
from kprobe.v1 import api_common_pb2, causal_graph_pb2, search_pb2
from tests.api import dataset
from tests.api.clients import Stubs, as_dict
from tests.api.conftest import wait_for

MS = 1_000_000


@pytest.fixture(scope="module")
def base(env) -> str:
    return f"http://127.0.0.1:{env.port}"


@pytest.fixture(scope="module")
def stubs(env):
    ch = grpc.insecure_channel(f"127.0.0.1:{env.port}")
    yield Stubs(ch)
    ch.close()


def _window(env) -> dict[str, str]:
    return {"time_range.start_ns": str(env.incident.t0 - 2000 * MS), "time_range.end_ns": str(env.incident.t0 + 5000 * MS)}


def test_graph_json_equals_grpc(base, stubs):
    r = requests.get(f"{base}/api/v1/transactions/{dataset.FAILED}/graph", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    g = stubs.graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(transaction_id=dataset.FAILED))
    assert r.json() == as_dict(g)
    body = r.json()
    assert body["root_cause"]["mechanism"] == "memory-reclaim"
    assert body["end_to_end_latency_ns"] == str(760 * MS)  # 64-bit integers as strings (proto3 JSON)
    assert all("latency_contribution_ns" in e or e.get("on_critical_path") is not True for e in body["edges"])


def test_generic_json_route_equals_grpc(env, base, stubs):
    req = search_pb2.SearchTransactionsRequest(status=api_common_pb2.TRANSACTION_STATUS_ERROR)
    req.time_range.start_ns = env.incident.t0 - 2000 * MS
    r = requests.post(f"{base}/kprobe.v1.SearchService/SearchTransactions", timeout=30,
                      json={"status": "TRANSACTION_STATUS_ERROR", "timeRange": {"startNs": str(req.time_range.start_ns)}})
    assert r.status_code == 200
    assert r.json() == as_dict(stubs.search.SearchTransactions(req))
    assert [t["transaction_id"] for t in r.json()["transactions"]] == [dataset.FAILED]


def test_get_routes_with_query_parameters(env, base):
    r = requests.get(f"{base}/api/v1/events", timeout=30, params={
        **_window(env), "filter.pids": str(dataset.BATCH), "filter.event_types": "PageFault", "page.page_size": "5000"})
    assert r.status_code == 200, r.text
    assert len(r.json()["events"]) == 1000 and "next_page_token" not in r.json()
    r = requests.get(f"{base}/api/v1/search/transactions", timeout=30, params={**_window(env), "status": "ERROR"})
    assert [t["transaction_id"] for t in r.json()["transactions"]] == [dataset.FAILED]
    r = requests.get(f"{base}/api/v1/search/events", timeout=30,
                     params={**_window(env), "filter.event_types": "SyscallWrite,MemoryReclaim", "filter.comms": "settlement-svc"})
    assert sorted(e["event_type"] for e in r.json()["events"]) == ["MemoryReclaim", "SyscallWrite", "SyscallWrite"]
    tl = requests.get(f"{base}/api/v1/transactions/{dataset.HEALTHY}/timeline", params={"include_spans": "true"}, timeout=30).json()
    assert tl["transaction"]["transaction_id"] == dataset.HEALTHY and len(tl["spans"]) == 4
    rc = requests.get(f"{base}/api/v1/transactions/{dataset.FAILED}/root-cause", timeout=30).json()
    assert rc["root_cause"]["culprit"] == {"pid": dataset.BATCH, "comm": "batch-job", "service": "batch-job"}
    up = requests.get(f"{base}/api/v1/traverse", timeout=30, params={
        "transaction_id": dataset.FAILED, "node_id": f"txn:{dataset.FAILED}", "direction": "UPSTREAM"}).json()
    assert rc["root_cause"]["node_id"] in {n["id"] for n in up["nodes"]}


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [
    ("GET", f"/api/v1/transactions/{'pay-unknown'}/graph", {}, 404, "NOT_FOUND"),
    ("GET", "/api/v1/events", {"params": {"time_range.start_ns": "soon"}}, 400, "INVALID_ARGUMENT"),
    ("GET", "/api/v1/events", {"params": {"filter.event_types": "Teleport"}}, 400, "INVALID_ARGUMENT"),
    ("GET", "/api/v1/events", {"params": {"no_such": "1"}}, 400, "INVALID_ARGUMENT"),
    ("POST", "/kprobe.v1.SearchService/SearchTransactions", {"json": {"bogus": 1}}, 400, "INVALID_ARGUMENT"),
    ("POST", "/kprobe.v1.SearchService/SearchTransactions", {"data": b"x", "headers": {"Content-Type": "text/plain"}}, 400, "INVALID_ARGUMENT"),
    ("POST", "/kprobe.v1.SearchService/NoSuchMethod", {"json": {}}, 501, "UNIMPLEMENTED"),
    ("GET", "/api/v1/traverse", {"params": {"transaction_id": dataset.FAILED, "node_id": "x"}}, 400, "INVALID_ARGUMENT"),
])
def test_http_errors_map_grpc_codes(base, method, path, kwargs, status, code):
    r = requests.request(method, base + path, timeout=30, **kwargs)
    assert r.status_code == status
    assert r.json()["code"] == code and r.json()["message"]


def _grpc_web(base: str, path: str, msg, text: bool = False) -> tuple[list[bytes], dict[str, str]]:
    frame = grpcweb.message_frame(msg.SerializeToString())
    ctype = "application/grpc-web-text" if text else "application/grpc-web+proto"
    r = requests.post(base + path, data=base64.b64encode(frame) if text else frame, timeout=30,
                      headers={"Content-Type": ctype, "X-Grpc-Web": "1"})
    assert r.status_code == 200 and r.headers["Content-Type"] == ctype
    return grpcweb.parse_response(r.content, text)


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_grpc_web_unary(base, stubs, text):
    req = causal_graph_pb2.GetRootCauseRequest(transaction_id=dataset.FAILED)
    msgs, trailers = _grpc_web(base, "/kprobe.v1.CausalGraphService/GetRootCause", req, text)
    assert trailers["grpc-status"] == "0"
    assert [causal_graph_pb2.RootCauseResponse.FromString(m) for m in msgs] == [stubs.graph.GetRootCause(req)]


def test_grpc_web_errors_in_trailers(base):
    msgs, trailers = _grpc_web(base, "/kprobe.v1.CausalGraphService/GetCausalGraph",
                               causal_graph_pb2.GetCausalGraphRequest(transaction_id="pay-unknown"))
    assert msgs == []
    assert trailers["grpc-status"] == str(grpc.StatusCode.NOT_FOUND.value[0])
    assert "pay-unknown" in requests.utils.unquote(trailers["grpc-message"])
    r = requests.post(base + "/kprobe.v1.CausalGraphService/GetCausalGraph", data=b"\x00\x00\x00\x00\x09ab",
                      headers={"Content-Type": "application/grpc-web+proto"}, timeout=30)
    _, trailers = grpcweb.parse_response(r.content)
    assert trailers["grpc-status"] == str(grpc.StatusCode.INVALID_ARGUMENT.value[0])


def test_cors_preflight_and_origin_check(base, env):
    same = f"http://127.0.0.1:{env.port}"
    r = requests.options(base + "/kprobe.v1.CausalGraphService/GetCausalGraph", timeout=10, headers={
        "Origin": same, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-grpc-web"})
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == same
    assert "grpc-status" in r.headers["Access-Control-Expose-Headers"]
    r = requests.get(f"{base}/api/v1/transactions/{dataset.FAILED}/root-cause", headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403 and "evil.example" in r.json()["message"]


def test_console_static_hook(env, tmp_path):
    (tmp_path / "index.html").write_text("<html>kprobe console</html>")
    api = env.start_api(console_dir=tmp_path)
    try:
        for path in ("/console", "/console/"):
            r = requests.get(f"http://127.0.0.1:{api.port}{path}", timeout=10)
            assert r.status_code == 200 and "kprobe console" in r.text, path
    finally:
        api.stop()


def test_grpc_web_server_stream(env, base):
    """StreamEvents over gRPC-Web: frames arrive as events are published."""
    import struct
    import threading

    from kprobe import events
    from kprobe.v1 import api_common_pb2 as common
    from kprobe.v1 import events_pb2, timeline_pb2

    req = timeline_pb2.StreamEventsRequest(filter=common.EventFilter(event_types=[events_pb2.SyscallFsync], pids=[7301]))
    hub = env.api.server.backends.hub
    before = hub.subscribers
    sent = [events.make_event("SyscallFsync", pid=7301, tid=1, timestamp_ns=1000 + i, fd=9) for i in range(3)]

    def publish_when_subscribed() -> None:
        wait_for(lambda: hub.subscribers > before)
        hub.publish([events.make_event("SyscallFsync", pid=7302, tid=1, timestamp_ns=1), *sent])

    threading.Thread(target=publish_when_subscribed, daemon=True).start()
    with requests.post(base + "/kprobe.v1.TimelineService/StreamEvents", stream=True, timeout=30,
                       data=grpcweb.message_frame(req.SerializeToString()),
                       headers={"Content-Type": "application/grpc-web+proto"}) as r:
        buf, got = b"", []
        for chunk in r.iter_content(chunk_size=None):
            buf += chunk
            while len(buf) >= 5 and len(buf) >= 5 + struct.unpack(">I", buf[1:5])[0]:
                n = struct.unpack(">I", buf[1:5])[0]
                got.append(timeline_pb2.LiveMessage.FromString(buf[5:5 + n]))
                buf = buf[5 + n:]
            if len(got) >= 3:
                break
    assert [(m.sequence, m.event.event_id) for m in got] == [(i + 1, e["event_id"]) for i, e in enumerate(sent)]

"""The API over a real capture of a testbed run: the memory-pressure scenario,
captured with eBPF, joined by the real processor, served while it happens."""

from __future__ import annotations

import asyncio
import json
import os
import threading

import grpc
import pytest
import websockets

from causal_processor.api.config import ApiConfig
from causal_processor.api.server import ApiServer, ServerThread
from causal_processor.api.wiring import backends_for
from causal_processor.graphstore import open_graph_store
from kprobe.v1 import api_common_pb2, causal_graph_pb2, events_pb2, search_pb2, timeline_pb2
from tests.api.clients import Stubs, assert_same_graph, kprobe_explain
from tests.api.conftest import settle, wait_for

pytestmark = [pytest.mark.ebpf, pytest.mark.slow]


class LiveRecorder:
    """A WebSocket subscriber and a gRPC StreamEvents reader, running during the scenario."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ws_messages: list[dict] = []
        self.grpc_messages: list[timeline_pb2.LiveMessage] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._threads = [threading.Thread(target=self._ws, daemon=True), threading.Thread(target=self._grpc, daemon=True)]
        self._call = None

    def _ws(self) -> None:
        async def run() -> None:
            async with websockets.connect(f"ws://127.0.0.1:{self.port}/stream", max_queue=None) as ws:
                await ws.send(json.dumps({"type": "subscribe", "filter": {"services": ["settlement-svc"]}}))
                assert json.loads(await ws.recv())["type"] == "subscribed"
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        self.ws_messages.append(json.loads(await asyncio.wait_for(ws.recv(), 0.2)))
                    except TimeoutError:
                        continue

        self._loop.run_until_complete(run())

    def _grpc(self) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as ch:
            flt = api_common_pb2.EventFilter(event_types=[events_pb2.SyscallFsync])
            self._call = Stubs(ch).timeline.StreamEvents(timeline_pb2.StreamEventsRequest(filter=flt))
            try:
                for m in self._call:
                    self.grpc_messages.append(m)
            except grpc.RpcError:
                pass

    def __enter__(self) -> LiveRecorder:
        for t in self._threads:
            t.start()
        assert self._ready.wait(20)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._call is not None:
            self._call.cancel()
        for t in self._threads:
            t.join(10)


@pytest.fixture(scope="module")
def captured(chdb_dir, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the testbed and eBPF capture need root")
    from bench.causal.pipeline import Pipeline

    dsn = f"chdb://{chdb_dir}?database=api_capture"
    graphs = open_graph_store(f"ladybug://{tmp_path_factory.mktemp('graph')}/causal.lbug")
    with Pipeline(dsn) as p:
        proc = p.running.processor
        api = ServerThread(ApiServer(ApiConfig(port=0), backends_for(proc.store, graphs), live=proc.live.subscribe)).start()
        try:
            with LiveRecorder(api.port) as live:
                verdict = p.run("memory-pressure")
            if verdict.payment_id:
                settle(proc.store, [verdict.payment_id])
            yield {"verdict": verdict, "api": api, "store": proc.store, "dsn": dsn, "live": live}
        finally:
            api.stop()
            graphs.close()


@pytest.fixture(scope="module")
def stubs(captured):
    ch = grpc.insecure_channel(f"127.0.0.1:{captured['api'].port}")
    yield Stubs(ch)
    ch.close()


def test_graph_of_the_captured_incident_equals_kprobe_explain(captured, stubs):
    txn = captured["verdict"].payment_id
    assert txn, captured["verdict"].error
    served = stubs.graph.GetCausalGraph(causal_graph_pb2.GetCausalGraphRequest(transaction_id=txn))
    assert_same_graph(served, kprobe_explain(captured["dsn"], txn))
    assert len(served.nodes) > 10 and any(e.latency_contribution_ns for e in served.edges)


def test_timeline_and_search_over_the_capture(captured, stubs):
    v = captured["verdict"]
    store = captured["store"]
    want = [e["event_id"] for e in store.transaction_events(v.payment_id)]
    got, token = [], ""
    while True:
        page = stubs.timeline.GetTransactionTimeline(timeline_pb2.GetTransactionTimelineRequest(
            transaction_id=v.payment_id, page=api_common_pb2.PageRequest(page_size=500, page_token=token)))
        got += [e.event_id for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert got == want and len(want) > 10
    truth = v.truth
    window = api_common_pb2.TimeRange(start_ns=truth.started_ns - 10**9, end_ns=truth.ended_ns + 10**9)

    def search() -> dict:
        found, token = {}, ""
        while True:
            r = stubs.search.SearchTransactions(search_pb2.SearchTransactionsRequest(
                time_range=window, services=["payment-handler"], page=api_common_pb2.PageRequest(page_size=100, page_token=token)))
            found.update({t.transaction_id: t for t in r.transactions})
            token = r.next_page_token
            if not token:
                return found

    # the last payments may still be inside the join's lateness window
    def complete() -> dict | None:
        found = search()
        return found if all(p.payment_id in found for p in truth.payments) else None

    found = wait_for(complete, 90)
    for pay in truth.payments:
        assert pay.payment_id in found
        want_status = api_common_pb2.TRANSACTION_STATUS_ERROR if pay.status != "succeeded" else api_common_pb2.TRANSACTION_STATUS_OK
        assert found[pay.payment_id].status == want_status, pay


def test_live_streams_during_the_run_honour_their_filters(captured):
    live = captured["live"]
    events_ws = [m for m in live.ws_messages if m["type"] == "event"]
    assert events_ws, "no settlement-svc event arrived live"
    assert all(m["event"]["financial_context"]["service"] == "settlement-svc" for m in events_ws)
    seqs = [m["sequence"] for m in events_ws] + [
        s for m in live.ws_messages if m["type"] == "dropped" for s in range(m["first_sequence"], m["first_sequence"] + m["count"])]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))  # no unannounced gap
    assert live.grpc_messages and all(
        m.event.event_type == events_pb2.SyscallFsync for m in live.grpc_messages if m.HasField("event"))

"""One processor + API for the module's tests, fed through OTLP (see dataset.py)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from causal_processor import server as processor_server
from causal_processor.api.config import ApiConfig
from causal_processor.api.server import ApiServer, ServerThread
from causal_processor.api.wiring import backends_for
from causal_processor.config import local
from causal_processor.graphstore import GraphStore, open_graph_store
from tests.api import dataset

_db = itertools.count()


@dataclass
class Env:
    api: ServerThread
    running: processor_server.RunningProcessor
    incident: dataset.Incident
    dsn: str
    graphs: GraphStore

    @property
    def port(self) -> int:
        return self.api.port

    @property
    def store(self):
        return self.running.processor.store

    def start_api(self, recordings: str | None = None, **config) -> ServerThread:
        """Another API server over the same processor (e.g. with auth on)."""
        p = self.running.processor
        return ServerThread(ApiServer(ApiConfig(port=0, **config), backends_for(p.store, self.graphs, recordings),
                                      live=p.live.subscribe)).start()


def wait_for(pred: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {pred}")


def settle(store, transactions, quiet_s: float = 0.9, timeout: float = 30.0) -> None:
    """Wait until the join stops adding events to these transactions (kernel
    events sent after the spans can be joined a tick or two later)."""
    last, stable_since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = tuple(len(store.transaction_events(t)) for t in transactions)
        if counts != last or not all(counts):
            last, stable_since = counts, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return
        time.sleep(0.15)
    raise AssertionError(f"the join did not settle in {timeout} s: {last}")


@pytest.fixture(scope="module")
def env(chdb_dir: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Processor (chdb) + embedded graph store (Ladybug) + API, fed with dataset.send."""
    dsn = f"chdb://{chdb_dir}?database=api{next(_db)}"
    running = processor_server.start(local(dsn))
    p = running.processor
    graphs = open_graph_store(f"ladybug://{tmp_path_factory.mktemp('graph')}/causal.lbug")
    api = ServerThread(ApiServer(ApiConfig(port=0), backends_for(p.store, graphs), live=p.live.subscribe)).start()
    try:
        incident = dataset.send(running.grpc_port)
        for txn in incident.transactions:
            wait_for(lambda t=txn: p.store.transaction(t))
        settle(p.store, incident.transactions)
        yield Env(api, running, incident, dsn, graphs)
    finally:
        api.stop()
        running.stop(flush=False)
        p.store.close()
        graphs.close()

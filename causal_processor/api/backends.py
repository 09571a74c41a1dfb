"""What the API needs from the rest of kprobe, as small Protocols.

Services depend on these, not on ClickHouse, the causal engine or ptrace, so
`kprobe serve` (everything in one process) and a separate API in front of
ClickHouse/Neo4j servers wire different implementations into the same code.
A backend left as None makes its RPCs answer UNIMPLEMENTED with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from causal_processor.storage.store import EventStore
from kprobe.v1 import api_common_pb2, causal_graph_pb2, replay_pb2, search_pb2

from .errors import unimplemented
from .hub import LiveHub

T = TypeVar("T")


class CausalAnalyzer(Protocol):
    """The causal engine: the graph of one transaction, as served."""

    def causal_graph(self, transaction_id: str) -> causal_graph_pb2.CausalGraph | None:
        """None when the transaction is unknown."""
        ...


class ChainIndex(Protocol):
    """The graph store's cross-transaction queries."""

    def chains(
        self, culprit: api_common_pb2.Culprit, mechanism: str, start_ns: int, end_ns: int,
        limit: int, offset: int,
    ) -> list[search_pb2.CausalChainMatch]: ...

    def top_root_causes(self, start_ns: int, end_ns: int, limit: int) -> list[search_pb2.RootCauseCount]: ...


class ReplayRunner(Protocol):
    """Runs one replay to completion in a worker thread.

    `progress(events_replayed, events_total, message)` may be called any
    number of times; `cancelled()` turns true when the session is cancelled.
    """

    def resolve(self, request: replay_pb2.CreateReplaySessionRequest) -> str:
        """Check the source exists (ApiError NOT_FOUND/INVALID_ARGUMENT otherwise); its description."""
        ...

    def run(
        self,
        request: replay_pb2.CreateReplaySessionRequest,
        progress: Callable[[int, int, str], None],
        cancelled: Callable[[], bool],
    ) -> tuple[replay_pb2.ReplayState, replay_pb2.ReplayOutcome, str]: ...


@dataclass
class Backends:
    """Everything the services call, plus the pool their blocking calls run on."""

    store: EventStore | None = None
    analyzer: CausalAnalyzer | None = None
    chains: ChainIndex | None = None
    replay: ReplayRunner | None = None
    hub: LiveHub | None = None
    missing: dict[str, str] = field(default_factory=dict)  # backend -> why it is absent
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="kprobe-api")
    )

    def need(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            why = self.missing.get(name, "not configured in this server")
            raise unimplemented(f"{name} backend unavailable: {why}")
        return value

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking backend call off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

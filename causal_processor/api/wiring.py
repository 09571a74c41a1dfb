"""Which real implementation backs each API Protocol, in one place.

Backends that are not built yet (or cannot start here) are recorded in
`Backends.missing` with the reason, and their RPCs answer UNIMPLEMENTED.
"""

from __future__ import annotations

import os

from causal_processor.graphstore import GraphStore
from causal_processor.storage.store import EventStore

from .backends import Backends
from .engine import EngineAnalyzer
from .graph_index import GraphChains
from .replay_runner import RecordingLibrary


def backends_for(store: EventStore, graphs: GraphStore | None = None,
                 recordings: str | os.PathLike[str] | None = None, graph_cache_s: float = 5.0) -> Backends:
    b = Backends(store=store, analyzer=EngineAnalyzer(store, graphs, graph_cache_s))
    if graphs is not None:
        b.chains = GraphChains(graphs)
    else:
        b.missing["chains"] = "no graph store configured (--graph-store)"
    if recordings is not None:
        b.replay = RecordingLibrary(recordings)
    else:
        b.missing["replay"] = "no recordings directory configured (--recordings-dir)"
    return b

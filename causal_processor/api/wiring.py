"""Which real implementation backs each API Protocol, in one place.

Backends that are not built yet (or cannot start here) are recorded in
`Backends.missing` with the reason, and their RPCs answer UNIMPLEMENTED.
"""

from __future__ import annotations

from causal_processor.graphstore import GraphStore
from causal_processor.storage.store import EventStore

from .backends import Backends
from .engine import EngineAnalyzer
from .graph_index import GraphChains


def backends_for(store: EventStore, graphs: GraphStore | None = None) -> Backends:
    b = Backends(store=store, analyzer=EngineAnalyzer(store, graphs))
    if graphs is not None:
        b.chains = GraphChains(graphs)
    else:
        b.missing["chains"] = "no graph store configured (--graph-store)"
    b.missing["replay"] = "the replay engine's session API is not wired yet"
    return b

"""Which real implementation backs each API Protocol, in one place.

Backends that are not built yet (or cannot start here) are recorded in
`Backends.missing` with the reason, and their RPCs answer UNIMPLEMENTED.
"""

from __future__ import annotations

from causal_processor.storage.store import EventStore

from .backends import Backends
from .engine import EngineAnalyzer


def backends_for(store: EventStore) -> Backends:
    b = Backends(store=store, analyzer=EngineAnalyzer(store))
    b.missing["chains"] = "the graph store's cross-transaction queries are not wired yet"
    b.missing["replay"] = "the replay engine's session API is not wired yet"
    return b

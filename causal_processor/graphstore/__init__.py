"""Graph stores for causal graphs: Neo4j (server), Ladybug (embedded default), memory.

`open_graph_store(url)` picks one by URL:
- `bolt://`, `neo4j://`, `neo4j+s://`, ... -> Neo4j (user/password from the URL or
  NEO4J_USER / NEO4J_PASSWORD, database from NEO4J_DATABASE);
- `ladybug:///abs/dir/graph.lbug` -> Ladybug (embedded, persistent);
- `memory://` -> in-process dicts (no persistence).
No URL: `$KPROBE_GRAPH_STORE`, else Ladybug under `$KPROBE_DATA_DIR` (default /var/lib/kprobe).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from causal_processor.graphstore.base import GraphRecord, GraphStore, GraphStoreError, record_from

__all__ = ["GraphRecord", "GraphStore", "GraphStoreError", "default_graph_url", "open_graph_store", "record_from"]

_NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def default_graph_url() -> str:
    env = os.environ.get("KPROBE_GRAPH_STORE")
    if env:
        return env
    data_dir = os.environ.get("KPROBE_DATA_DIR", "/var/lib/kprobe")
    return f"ladybug://{os.path.abspath(os.path.join(data_dir, 'graph', 'causal.lbug'))}"


def open_graph_store(url: str | None = None) -> GraphStore:
    url = url or default_graph_url()
    u = urlparse(url)
    if u.scheme in _NEO4J_SCHEMES:
        from causal_processor.graphstore.neo4j_store import Neo4jGraphStore

        user = unquote(u.username) if u.username else os.environ.get("NEO4J_USER", "neo4j")
        password = unquote(u.password) if u.password else os.environ.get("NEO4J_PASSWORD", "")
        netloc = u.hostname + (f":{u.port}" if u.port else "") if u.hostname else u.netloc
        return Neo4jGraphStore(f"{u.scheme}://{netloc}", user, password, os.environ.get("NEO4J_DATABASE") or None)
    if u.scheme == "ladybug":
        from causal_processor.graphstore.embedded import LadybugGraphStore

        return LadybugGraphStore(u.netloc + u.path)
    if u.scheme == "memory":
        from causal_processor.graphstore.memory import MemoryGraphStore

        return MemoryGraphStore()
    raise GraphStoreError(f"unsupported graph store URL {url!r}: use bolt://host:7687, ladybug:///dir/graph.lbug or memory://")

"""The Cypher query library for Neo4j (5.x): schema, batched idempotent writes, reads.

Every statement the Neo4j store sends is built here and nowhere else, so the
test that runs each of them through Neo4j's own parser covers all of them
(`all_statements()`).

Graph model
-----------
Labels (every node also has `:CausalNode`, which carries the unique `id`):
- `:Transaction` {id: "txn:<id>", txn, start_ns, duration_ns, status, service, operation,
  trace_id, root_mechanism, root_pid, root_comm, root_service, root_contribution_ns,
  root_node_id, chain: [node ids]}
- `:Span` {id: "span:<span id>", txn, label (span name), service, pid, start_ns, duration_ns, span_id, ...}
- `:KernelEvent` {id: "ev:<event id>", txn, event_type, event_id (string: u64 does not fit
  Neo4j's signed integers), pid, tid, comm, start_ns, duration_ns, ...}
- `:Process` {id: "proc:<pid>", pid, comm, service}: shared by every transaction it hurt.
Relationships, cause -> effect, one type per relation (`program-order` -> PROGRAM_ORDER, ...),
each with {txn, inferred, confidence, share, latency_contribution_ns, on_critical_path};
plus (cause)-[:ROOT_CAUSE_OF {mechanism, contribution_ns}]->(:Transaction).
"""

from __future__ import annotations

from causal_processor.causal import model

LABELS = {model.TRANSACTION: "Transaction", model.SPAN: "Span", model.KERNEL_EVENT: "KernelEvent",
          model.PROCESS: "Process"}
REL_TYPES = {r: r.upper().replace("-", "_") for r in model.RELATIONS}
_CAUSAL_TYPES = "|".join(sorted(REL_TYPES.values()))

SCHEMA: tuple[str, ...] = (
    "CREATE CONSTRAINT causal_node_id IF NOT EXISTS FOR (n:CausalNode) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX causal_node_txn IF NOT EXISTS FOR (n:CausalNode) ON (n.txn)",
    "CREATE INDEX transaction_start IF NOT EXISTS FOR (t:Transaction) ON (t.start_ns)",
    "CREATE INDEX transaction_root IF NOT EXISTS FOR (t:Transaction) ON (t.root_mechanism, t.root_pid)",
    "CREATE INDEX kernel_event_id IF NOT EXISTS FOR (n:KernelEvent) ON (n.event_id)",
    "CREATE INDEX process_pid IF NOT EXISTS FOR (p:Process) ON (p.pid)",
)

# -- writes (one transaction per graph) ----------------------------------------------
DELETE_STALE = (
    "MATCH (n:CausalNode {txn: $txn})-[e]-() WHERE e.txn = $txn OR type(e) = 'ROOT_CAUSE_OF' DELETE e"
)
DELETE_STALE_NODES = "MATCH (n:CausalNode {txn: $txn}) WHERE NOT n.id IN $ids DETACH DELETE n"


def merge_nodes(kind: str) -> str:
    """Upsert a batch of nodes of one kind (labels cannot be parameters)."""
    return f"UNWIND $rows AS r MERGE (n:CausalNode {{id: r.id}}) SET n:{LABELS[kind]}, n += r"


def merge_edges(relation: str) -> str:
    """Upsert a batch of edges of one relation, keyed by (source, target, type, txn)."""
    return (
        "UNWIND $rows AS r MATCH (a:CausalNode {id: r.source}) MATCH (b:CausalNode {id: r.target}) "
        f"MERGE (a)-[e:{REL_TYPES[relation]} {{txn: r.txn}}]->(b) SET e += r.props"
    )


MERGE_ROOT_CAUSE = (
    "MATCH (t:Transaction {id: $txn_node}) MATCH (c:CausalNode {id: $root}) "
    "MERGE (c)-[r:ROOT_CAUSE_OF]->(t) SET r.mechanism = $mechanism, r.contribution_ns = $contribution_ns"
)

# -- reads ---------------------------------------------------------------------------
TRANSACTION = "MATCH (t:Transaction {id: $txn_node}) RETURN properties(t) AS t"
GRAPH_NODES = (
    "MATCH (n:CausalNode {txn: $txn}) RETURN properties(n) AS n "
    "UNION "
    "MATCH (p:Process)-[e]->(:CausalNode {txn: $txn}) WHERE e.txn = $txn RETURN properties(p) AS n"
)
GRAPH_EDGES = (
    f"MATCH (a:CausalNode)-[e:{_CAUSAL_TYPES}]->(b:CausalNode {{txn: $txn}}) WHERE e.txn = $txn "
    "RETURN a.id AS source, b.id AS target, type(e) AS type, properties(e) AS props"
)
CHAIN = (
    "MATCH (t:Transaction {id: $txn_node}) MATCH (c:CausalNode {id: t.root_node_id}) "
    f"MATCH p = shortestPath((c)-[:{_CAUSAL_TYPES}*..25]->(t)) "
    "WHERE all(e IN relationships(p) WHERE e.txn = $txn AND e.on_critical_path) "
    "RETURN [n IN nodes(p) | properties(n)] AS nodes"
)
UPSTREAM_HOP = (
    f"MATCH (a:CausalNode)-[e:{_CAUSAL_TYPES}]->(b:CausalNode) WHERE b.id IN $frontier "
    "AND ($txn = '' OR e.txn = $txn) "
    "RETURN a.id AS source, b.id AS target, type(e) AS type, properties(e) AS props"
)
DOWNSTREAM_HOP = (
    f"MATCH (a:CausalNode)-[e:{_CAUSAL_TYPES}]->(b:CausalNode) WHERE a.id IN $frontier "
    "AND ($txn = '' OR e.txn = $txn) "
    "RETURN a.id AS source, b.id AS target, type(e) AS type, properties(e) AS props"
)
NODES_BY_ID = "MATCH (n:CausalNode) WHERE n.id IN $ids RETURN properties(n) AS n"
HIT_BY = (
    "MATCH (c:CausalNode)-[r:ROOT_CAUSE_OF]->(t:Transaction) "
    "WHERE t.start_ns >= $start_ns AND t.start_ns < $end_ns "
    "AND ($pid IS NULL OR t.root_pid = $pid) AND ($comm IS NULL OR t.root_comm = $comm) "
    "AND ($service IS NULL OR t.root_service = $service) "
    "AND ($mechanism IS NULL OR t.root_mechanism = $mechanism) "
    "RETURN properties(t) AS t ORDER BY t.start_ns DESC, t.txn LIMIT $limit"
)
TOP_ROOT_CAUSES = (
    "MATCH (t:Transaction) WHERE t.start_ns >= $start_ns AND t.start_ns < $end_ns "
    "AND t.root_mechanism <> 'none' "
    "WITH t.root_mechanism AS mechanism, t.root_pid AS pid, t.root_comm AS comm, "
    "t.root_service AS service, count(*) AS transactions, sum(t.root_contribution_ns) AS contribution_ns "
    "RETURN mechanism, pid, comm, service, transactions, contribution_ns "
    "ORDER BY contribution_ns DESC, mechanism, pid LIMIT $limit"
)


def rel_type_to_relation(rel_type: str) -> str:
    return {v: k for k, v in REL_TYPES.items()}[rel_type]


def all_statements() -> list[tuple[str, dict]]:
    """Every statement the Neo4j store can send, with parameters of the right shape."""
    row = {"id": "x", "txn": "t"}
    edge = {"source": "a", "target": "b", "txn": "t", "props": {"share": 1.0}}
    out: list[tuple[str, dict]] = [(s, {}) for s in SCHEMA]
    out += [(DELETE_STALE, {"txn": "t"}), (DELETE_STALE_NODES, {"txn": "t", "ids": ["x"]})]
    out += [(merge_nodes(k), {"rows": [row]}) for k in LABELS]
    out += [(merge_edges(r), {"rows": [edge]}) for r in REL_TYPES]
    out.append((MERGE_ROOT_CAUSE, {"txn_node": "txn:t", "root": "proc:1", "mechanism": "m", "contribution_ns": 1}))
    out += [(TRANSACTION, {"txn_node": "txn:t"}), (GRAPH_NODES, {"txn": "t"}), (GRAPH_EDGES, {"txn": "t"}),
            (CHAIN, {"txn_node": "txn:t", "txn": "t"}), (UPSTREAM_HOP, {"frontier": ["x"], "txn": ""}),
            (DOWNSTREAM_HOP, {"frontier": ["x"], "txn": ""}), (NODES_BY_ID, {"ids": ["x"]})]
    out.append((HIT_BY, {"start_ns": 0, "end_ns": 1, "pid": None, "comm": None, "service": None,
                         "mechanism": None, "limit": 10}))
    out.append((TOP_ROOT_CAUSES, {"start_ns": 0, "end_ns": 1, "limit": 10}))
    return out


STATEMENTS = frozenset(s for s, _ in all_statements())

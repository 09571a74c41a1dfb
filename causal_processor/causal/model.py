"""The causal graph of one transaction: nodes, typed edges, the critical path.

Edges point from cause to effect (as in proto/kprobe/v1/causal_graph.proto):
`source` is the cause, `target` the effect. Walking edges backwards from the
transaction therefore walks towards root causes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Node kinds (NodeKind in causal_graph.proto, lower-case).
TRANSACTION = "transaction"
SPAN = "span"
KERNEL_EVENT = "kernel_event"
PROCESS = "process"
NODE_KINDS = (TRANSACTION, SPAN, KERNEL_EVENT, PROCESS)

# Edge relations: the engine's vocabulary.
PROGRAM_ORDER = "program-order"
PARENT_CHILD = "parent-child"
SEND_RECV = "send-recv"
WAKEUP = "wakeup"
RUNQUEUE = "runqueue"
RECLAIM = "reclaim"
MEMORY_PRESSURE = "memory-pressure"
RETRANSMIT = "retransmit"
DISK_IO = "disk-io"
LOCK = "lock"
TIMEOUT = "timeout"
ON_CPU = "on-cpu"
RELATIONS = (
    PROGRAM_ORDER,
    PARENT_CHILD,
    SEND_RECV,
    WAKEUP,
    RUNQUEUE,
    RECLAIM,
    MEMORY_PRESSURE,
    RETRANSMIT,
    DISK_IO,
    LOCK,
    TIMEOUT,
    ON_CPU,
)

# Root-cause mechanisms.
MEMORY_RECLAIM_CAUSE = "memory-reclaim"
CPU_CONTENTION = "cpu-contention"
DISK_IO_CAUSE = "disk-io"
TCP_RETRANSMIT = "tcp-retransmit"
LOCK_CONTENTION = "lock-contention"
DOWNSTREAM_LATENCY = "downstream-latency"
TIMEOUT_CAUSE = "timeout"
NONE = "none"
MECHANISMS = (
    MEMORY_RECLAIM_CAUSE,
    CPU_CONTENTION,
    DISK_IO_CAUSE,
    TCP_RETRANSMIT,
    LOCK_CONTENTION,
    DOWNSTREAM_LATENCY,
    TIMEOUT_CAUSE,
)


@dataclass
class Node:
    """A transaction, an application span, a kernel event/interval or a culprit process."""

    id: str
    kind: str
    label: str
    start_ns: int = 0
    duration_ns: int = 0
    pid: int = 0
    tid: int = 0
    comm: str = ""
    service: str = ""
    event_type: str = ""
    event_id: int = 0
    span_id: str = ""
    on_critical_path: bool = False
    critical_path_ns: int = 0
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Edge:
    """A causal relation, cause (`source`) -> effect (`target`)."""

    source: str
    target: str
    relation: str
    inferred: bool = False
    confidence: float = 1.0
    share: float = 1.0
    latency_contribution_ns: int = 0
    on_critical_path: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.target, self.relation)


@dataclass(frozen=True)
class Culprit:
    pid: int
    comm: str
    service: str = ""
    tid: int = 0


@dataclass
class Segment:
    """One piece of the critical path: [start_ns, end_ns) attributed to one cause.

    The pieces tile the root span exactly, so their durations add up to the
    end-to-end latency.
    """

    start_ns: int
    end_ns: int
    span_index: int  # index into CausalGraph.spans (-1: no span)
    mechanism: str  # a root-cause mechanism or "self" (plain work of the span)
    node_id: str  # the node the time is spent in (kernel interval or span)
    culprits: tuple[tuple[Culprit, float], ...] = ()  # (culprit, share)
    evidence: tuple[str, ...] = ()
    span_pid: int = 0  # the process whose span the time was spent in

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass
class CausalGraph:
    transaction_id: str
    nodes: dict[str, Node]
    edges: dict[tuple[str, str, str], Edge]
    critical_path: list[Segment]
    end_to_end_ns: int
    start_ns: int
    status: str  # "OK" or "ERROR"
    status_message: str = ""
    service: str = ""
    operation: str = ""
    trace_id: str = ""

    def add_node(self, node: Node) -> Node:
        return self.nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge) -> Edge:
        old = self.edges.get(edge.key)
        if old is None:
            self.edges[edge.key] = edge
            return edge
        old.latency_contribution_ns += edge.latency_contribution_ns
        old.on_critical_path = old.on_critical_path or edge.on_critical_path
        return old

    @property
    def critical_path_ns(self) -> int:
        return sum(s.duration_ns for s in self.critical_path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [asdict(n) for n in self.nodes.values()],
            "edges": [asdict(e) for e in self.edges.values()],
        }

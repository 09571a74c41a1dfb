"""`explain`: one call from a transaction id to its verdict, chain, story and graph.

This is what `kprobe explain`, `kprobe demo --json` and the API call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from causal_processor.app_span import AppSpan
from causal_processor.causal import model
from causal_processor.causal.build import TransactionData, build_graph
from causal_processor.causal.financial import concept, fired_timeout, io_concept
from causal_processor.causal.rootcause import Candidate, RootCause, root_cause
from causal_processor.causal.source import TransactionSource, load_transaction


@dataclass
class ChainStep:
    node_id: str
    label: str
    relation: str  # relation of the edge between the previous step and this one
    latency_contribution_ns: int


@dataclass
class Explanation:
    transaction_id: str
    status: str
    end_to_end_ns: int
    root_cause: RootCause
    chain: list[ChainStep]
    graph: model.CausalGraph
    story: list[str]
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self, with_graph: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "transaction_id": self.transaction_id,
            "status": self.status,
            "end_to_end_latency_ns": self.end_to_end_ns,
            "critical_path_ns": self.graph.critical_path_ns,
            "root_cause": self.root_cause.to_dict(),
            "chain": [vars(s) for s in self.chain],
            "candidates": [
                {"mechanism": c.mechanism, "contribution_ns": c.contribution_ns,
                 "culprit": None if c.culprit is None else {"pid": c.culprit.pid, "comm": c.culprit.comm, "service": c.culprit.service}}
                for c in self.candidates[:5]
            ],
            "story": self.story,
        }
        if with_graph:
            out["graph"] = self.graph.to_dict()
        return out

    def render(self) -> str:
        return "\n".join(self.story)


def chain_to(graph: model.CausalGraph, node_id: str) -> list[ChainStep]:
    """The path transaction -> ... -> node along critical edges (effects first)."""
    out_edges: dict[str, list[model.Edge]] = {}
    for e in graph.edges.values():
        if e.on_critical_path:
            out_edges.setdefault(e.source, []).append(e)
    txn = f"txn:{graph.transaction_id}"
    path: list[tuple[str, model.Edge | None]] = [(node_id, None)]
    seen = {node_id}
    cur = node_id
    while cur != txn:
        nxt = [e for e in out_edges.get(cur, ()) if e.target not in seen]
        if not nxt:
            break
        e = max(nxt, key=lambda e: e.latency_contribution_ns)
        path.append((e.target, e))
        seen.add(e.target)
        cur = e.target
    path.reverse()
    steps = []
    for k, (nid, _) in enumerate(path):
        into = path[k - 1][1] if k > 0 else None  # edge from this node to its effect (previous step)
        n = graph.nodes[nid]
        steps.append(ChainStep(nid, n.label, into.relation if into else "", into.latency_contribution_ns if into else n.duration_ns))
    return steps


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms" if ns >= 100_000 else f"{ns / 1e3:.0f} µs"


def story(graph: model.CausalGraph, spans: list[AppSpan], rc: RootCause, chain: list[ChainStep]) -> list[str]:
    """The seeds' story: the payment's steps, the kernel cause with its culprit,
    the timeout that fired, the outcome."""
    lines: list[str] = []
    chain_ids = {s.node_id for s in chain}
    ordered = sorted(spans, key=lambda s: s.start_ns)
    t0 = graph.start_ns
    root = next((s for s in ordered if f"span:{s.span_id}" in chain_ids), ordered[0] if ordered else None)
    lines.append(f"[{concept(root).capitalize() if root else 'Transaction'} {graph.transaction_id} received]"
                 f"  {graph.service} {graph.operation}")
    prev_t = t0
    told = False
    for s in ordered:
        if s is root or s.kind.upper().endswith("CLIENT"):
            continue
        lines.append(f"   | {_ms(max(0, s.start_ns - prev_t))}")
        lines.append(f"[{concept(s).capitalize()}: {s.service} {s.name} {_ms(s.duration_ns)}"
                     f"{' FAILED' if s.status == 'ERROR' else ''}]")
        prev_t = s.start_ns
        if f"span:{s.span_id}" in chain_ids and rc.mechanism != model.NONE:
            cause = _cause_lines(graph, s, rc, chain)
            told = told or bool(cause)
            lines.extend(cause)
    if not told and rc.mechanism != model.NONE:  # the cause sits under a span not drawn above
        owner = next((s for s in reversed(ordered) if f"span:{s.span_id}" in chain_ids), None)
        if owner is not None:
            lines.extend(_cause_lines(graph, owner, rc, chain))
    timeout = fired_timeout(spans, graph)
    if timeout is not None:
        lines.append("   |")
        lines.append(f"[TIMEOUT: {timeout.service} exceeded {timeout.threshold_ms:g} ms threshold]")
    lines.append("   |")
    lines.append(f"[{concept(root).capitalize() if root else 'Transaction'} {'FAILED' if graph.status == 'ERROR' else 'completed'}]"
                 f"  end-to-end {_ms(graph.end_to_end_ns)}")
    lines.append("")
    if rc.mechanism == model.NONE:
        lines.append("Root cause: none — nothing on the critical path explains the latency.")
    else:
        c = rc.culprit
        who = f"{c.service or c.comm} (pid {c.pid}, {c.comm})" if c else "unknown"
        lines.append(f"Root cause: {rc.mechanism}, culprit {who}, "
                     f"{_ms(rc.contribution_ns)} of {_ms(graph.end_to_end_ns)}")
        lines.extend(f"  - {e}" for e in rc.evidence)
    return lines


def _cause_lines(graph: model.CausalGraph, span: AppSpan, rc: RootCause, chain: list[ChainStep]) -> list[str]:
    out = []
    idx = next((k for k, s in enumerate(chain) if s.node_id == f"span:{span.span_id}"), None)
    if idx is None:
        return out
    for step in chain[idx + 1:]:
        n = graph.nodes[step.node_id]
        if n.kind == model.KERNEL_EVENT:
            if n.event_type in ("SyscallWrite", "SyscallFsync", "SyscallRead", "TCPRecv"):
                out.append("   |")
                out.append(f"[{io_concept(span, n.event_type).capitalize()} initiated: {n.label}]")
            else:
                culprit = rc.culprit
                blame = f"  <── {culprit.service or culprit.comm} pid {culprit.pid} ({culprit.comm})" if culprit else ""
                out.append("   |")
                out.append(f"[KERNEL: {rc.mechanism}: {n.label}]{blame}")
                out.append(f"   | {_ms(rc.contribution_ns)} delay")
        elif n.kind == model.SPAN and step.node_id != f"span:{span.span_id}":
            break
    return out


def explain_data(data: TransactionData) -> Explanation:
    """Explain a transaction already loaded (spans + kernel events of its window)."""
    graph = build_graph(data)
    rc, ranked = root_cause(graph)
    chain = chain_to(graph, rc.node_id) if rc.node_id else chain_to(graph, f"txn:{graph.transaction_id}")
    spans = data.spans
    return Explanation(graph.transaction_id, graph.status, graph.end_to_end_ns, rc, chain, graph,
                       story(graph, spans, rc, chain), ranked)


def explain(source: TransactionSource, transaction_id: str) -> Explanation:
    """The one call: load the transaction from a store and explain it.

    Raises LookupError for an unknown transaction id.
    """
    return explain_data(load_transaction(source, transaction_id))

"""Build the causal graph of one transaction from its spans and kernel events.

Order of work: the spans' critical path (CRISP), then each critical segment
decomposed on its thread into kernel causes (attribution.py) with culprits
(culprits.py), then the graph: the critical chain with contributions, plus
the observed structure around it (parent -> child spans, program order,
send -> recv).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from causal_processor.app_span import AppSpan
from causal_processor.causal import model
from causal_processor.causal.attribution import SELF, Attributor, Piece
from causal_processor.causal.culprits import Culprits, Share
from causal_processor.causal.links import program_order, send_recv
from causal_processor.causal.spans import critical_path, root_index
from causal_processor.causal.table import (
    T_FAULT,
    T_FSYNC,
    T_READ,
    T_RECV,
    T_SEND,
    T_SWITCH,
    T_WRITE,
    EventTable,
)

MAX_KERNEL_NODES = 400  # Grafana's Node Graph draws ~1,500 nodes; keep room for spans
MIN_SWITCH_NODE_NS = 50_000  # shorter off-CPU intervals are noise in the picture
EDGE_SLACK_NS = 5_000_000  # a response is sent within this of its server span's end
FIRST_IO_NS = 2_000_000  # a span's own first I/O comes this soon after it starts
REQUEST_LEAD_NS = 200_000_000  # a pool server may read a request this long before running it
_IO_TYPES = np.array([T_SEND, T_RECV, T_WRITE, T_READ, T_FSYNC], dtype=np.int8)


@dataclass
class TransactionData:
    """Everything the engine reads for one transaction.

    `events` holds the transaction's own kernel events AND the other
    processes' events in its window: causes live outside the transaction.
    """

    transaction_id: str
    spans: list[AppSpan]
    events: EventTable


def _span_node_id(s: AppSpan) -> str:
    return f"span:{s.span_id}"


def _event_node_id(t: EventTable, row: int) -> str:
    return f"ev:{int(t.event_id[row])}"


def _proc_node_id(pid: int) -> str:
    return f"proc:{pid}"


def _kernel_label(t: EventTable, row: int) -> str:
    from kprobe.events import EventType

    et = EventType(int(t.etype[row])).name
    ms = int(t.dur[row]) / 1e6
    if et in ("SyscallWrite", "SyscallRead", "SyscallFsync", "TCPSend", "TCPRecv"):
        return f"{et}(fd={int(t.fd[row])}) {ms:.2f} ms"
    return f"{et} {ms:.2f} ms"


class _Builder:
    def __init__(self, data: TransactionData) -> None:
        self.data = data
        self.t = data.events
        self.spans = data.spans or [self._kernel_only_root()]
        self.culprits = Culprits(self.t)
        self.attr = Attributor(self.t, self.culprits)
        self.services = self._services()

    def _kernel_only_root(self) -> AppSpan:
        t = self.t
        m = t.txn == self.data.transaction_id
        if not m.any():
            raise LookupError(f"transaction {self.data.transaction_id!r} has no spans and no events")
        svc = Counter(t.service[m].tolist()).most_common(1)[0][0]
        return AppSpan("", "kernel", "", "transaction", svc, "Unspecified", int(t.ts[m].min()), int(t.end[m].max()),
                       resource={"process.pid": int(t.pid[m][0])}, transaction_id=self.data.transaction_id)

    def _services(self) -> dict[int, str]:
        out: dict[int, str] = {}
        t = self.t
        m = t.service != ""
        for pid, svc in zip(t.pid[m].tolist(), t.service[m].tolist(), strict=True):
            if not svc.startswith("unknown_service"):  # the SDK's placeholder: no service
                out.setdefault(pid, svc)
        for s in self.spans:
            if s.pid and s.service:
                out[s.pid] = s.service
        return out

    def _span_threads(self) -> dict[int, int]:
        """The thread that ran each span, from the I/O that marks its edges.

        A client span is run by the thread that sends its request right after the
        span starts; a server span by the thread that sends the response as it
        ends (in a pool server the worker, not the acceptor that read the
        request); another span by the thread doing I/O inside it. The join's
        answer is the fallback: it cannot tell which pool worker took a request.
        """
        t = self.t
        joined: dict[str, Counter] = {}
        m = t.span != ""
        ids = {s.span_id for s in self.spans}
        for sid, tid in zip(t.span[m].tolist(), t.tid[m].tolist(), strict=True):
            if sid in ids:
                joined.setdefault(sid, Counter())[tid] += 1
        io = np.isin(t.etype, _IO_TYPES)
        sends = t.etype == T_SEND
        spans = self.spans
        mine = {s.pid: t.pid == s.pid for s in spans if s.pid}
        edge: dict[int, int] = {}
        for i, s in enumerate(spans):
            if not s.pid or _is_server(s):
                continue
            client = s.kind.upper().endswith(("CLIENT", "PRODUCER"))
            # a client span's first send is its request; another span's first I/O right
            # after it starts is its own work (a pool server's span is not its acceptor's)
            horizon = s.end_ns if client else min(s.end_ns, s.start_ns + FIRST_IO_NS)
            kind = sends if client else io
            idx = np.flatnonzero(mine[s.pid] & kind & (t.ts >= s.start_ns) & (t.ts <= horizon))
            if len(idx):
                edge[i] = int(t.tid[idx[np.argmin(t.ts[idx])]])
        by_id = {s.span_id: i for i, s in enumerate(spans)}
        kids: dict[int, list[int]] = {}
        for i, s in enumerate(spans):
            p = by_id.get(s.parent_span_id)
            if p is not None and p != i and _same_process(spans[p], s):
                kids.setdefault(p, []).append(i)
        out: dict[int, int] = {}

        def from_kids(i: int, seen: set[int]) -> int | None:
            for k in sorted(kids.get(i, ()), key=lambda k: spans[k].start_ns):
                if k in seen:
                    continue
                seen.add(k)
                tid = edge.get(k)
                if tid is None:
                    tid = from_kids(k, seen)
                if tid is not None:
                    return tid
            return None

        for i in sorted(range(len(spans)), key=lambda k: (spans[k].start_ns, -spans[k].end_ns)):
            s = spans[i]
            tid = edge.get(i)
            if tid is None:
                tid = from_kids(i, {i})  # a span runs on the thread its own child spans ran on
            parent = by_id.get(s.parent_span_id)
            if tid is None and not _is_server(s) and parent in out and _same_process(spans[parent], s):
                tid = out[parent]  # an internal span runs on its parent's thread
            if tid is None and s.pid and _is_server(s):
                tid = self._responder(s, mine[s.pid])
            if tid is None and s.pid:
                inside = np.flatnonzero(mine[s.pid] & io & (t.ts >= s.start_ns) & (t.end <= s.end_ns))
                if len(inside):
                    tid = Counter(t.tid[inside].tolist()).most_common(1)[0][0]
            if tid is None and s.span_id in joined:
                tid = joined[s.span_id].most_common(1)[0][0]
            if tid is not None:
                out[i] = tid
        return out

    def build(self) -> model.CausalGraph:
        spans = self.spans
        ri = root_index(spans, self.data.transaction_id)
        root = spans[ri]
        g = model.CausalGraph(
            transaction_id=self.data.transaction_id,
            nodes={},
            edges={},
            critical_path=[],
            end_to_end_ns=root.duration_ns,
            start_ns=root.start_ns,
            status=root.status,
            status_message=root.status_message,
            service=root.service,
            operation=root.name,
            trace_id=root.trace_id,
        )
        txn_node = g.add_node(model.Node(f"txn:{g.transaction_id}", model.TRANSACTION, g.transaction_id,
                                         root.start_ns, root.duration_ns, root.pid, 0, "", root.service,
                                         on_critical_path=True, critical_path_ns=root.duration_ns))
        for s in spans:
            g.add_node(model.Node(_span_node_id(s), model.SPAN, s.name, s.start_ns, s.duration_ns, s.pid,
                                  service=s.service, span_id=s.span_id,
                                  attributes={"status": s.status, "kind": s.kind}))
        threads = self._span_threads()
        by_id = {s.span_id: i for i, s in enumerate(spans)}
        for idx, a, b in critical_path(spans, ri):
            s = spans[idx]
            tid = self._thread_for(idx, threads)
            pieces = [Piece(a, b, SELF)] if tid is None else self.attr.decompose(tid, s, a, b)
            for p in pieces:
                self._add_piece(g, idx, p)
        # spans' contributions: the critical time in each span's subtree
        crit = Counter()
        for seg in g.critical_path:
            crit[seg.span_index] += seg.duration_ns
        sub = self._subtree_totals(crit)
        for i, s in enumerate(spans):
            n = g.nodes[_span_node_id(s)]
            n.critical_path_ns = crit[i]
            n.on_critical_path = sub[i] > 0
            parent = by_id.get(s.parent_span_id)
            if parent is not None and parent != i:
                g.add_edge(model.Edge(_span_node_id(s), _span_node_id(spans[parent]), model.PARENT_CHILD,
                                      latency_contribution_ns=sub[i], on_critical_path=sub[i] > 0))
        g.add_edge(model.Edge(_span_node_id(root), txn_node.id, model.PARENT_CHILD,
                              latency_contribution_ns=root.duration_ns, on_critical_path=True))
        self._observed_structure(g)
        return g

    def _responder(self, s: AppSpan, mine: np.ndarray) -> int | None:
        """The thread that sent a server span's response: on the connection its request
        came in on (received just before it started), the send nearest its end."""
        t = self.t
        recv = np.flatnonzero(mine & (t.etype == T_RECV) & (t.ts >= s.start_ns - REQUEST_LEAD_NS)
                              & (t.ts <= s.start_ns + EDGE_SLACK_NS))
        flows = {t.flow_key(int(i)) for i in recv}
        idx = np.flatnonzero(mine & (t.etype == T_SEND) & (t.ts >= s.start_ns) & (t.ts <= s.end_ns + EDGE_SLACK_NS))
        on_conn = np.array([i for i in idx if t.flow_key(int(i)) in flows], dtype=np.int64)
        if len(on_conn):
            idx = on_conn
        if not len(idx):
            return None
        return int(t.tid[idx[np.argmin(np.abs(t.ts[idx] - s.end_ns))]])

    def _thread_for(self, idx: int, threads: dict[int, int]) -> int | None:
        """A span's thread, else that of its nearest relative in the same process
        (a client call runs on the thread of the server span that made it)."""
        if idx in threads:
            return threads[idx]
        spans = self.spans
        by_id = {s.span_id: i for i, s in enumerate(spans)}
        s = spans[idx]
        same = [c for c, x in enumerate(spans) if x.parent_span_id == s.span_id and _same_process(x, s)]
        p = by_id.get(s.parent_span_id)
        while p is not None and _same_process(spans[p], s):
            same.append(p)
            p = by_id.get(spans[p].parent_span_id)
        return next((threads[c] for c in same if c in threads), None)

    def _subtree_totals(self, crit: Counter) -> list[int]:
        spans = self.spans
        by_id = {s.span_id: i for i, s in enumerate(spans)}
        tot = [crit[i] for i in range(len(spans))]
        # depth-first: add each span to its ancestors
        for i in range(len(spans)):
            seen = {i}
            p = by_id.get(spans[i].parent_span_id)
            while p is not None and p not in seen:
                tot[p] += crit[i]
                seen.add(p)
                p = by_id.get(spans[p].parent_span_id)
        return tot

    def _culprit(self, sh: Share) -> model.Culprit:
        return model.Culprit(sh.pid, sh.comm, self.services.get(sh.pid, ""), sh.tid)

    def _add_piece(self, g: model.CausalGraph, idx: int, p: Piece) -> None:
        s = self.spans[idx]
        span_id = _span_node_id(s)
        culprits = tuple((self._culprit(sh), sh.share) for sh in p.culprits)
        mech = p.mechanism
        node_id = span_id
        if p.row >= 0 and mech != SELF:
            node_id = self._kernel_node(g, p.row, critical=p.end - p.start)
            target = span_id
            if p.via_row >= 0:
                via = self._kernel_node(g, p.via_row, critical=p.end - p.start)
                g.add_edge(model.Edge(node_id, via, p.relation, latency_contribution_ns=p.end - p.start,
                                      on_critical_path=True))
                target = via
                g.add_edge(model.Edge(via, span_id, model.PROGRAM_ORDER, latency_contribution_ns=p.end - p.start,
                                      on_critical_path=True))
            else:
                g.add_edge(model.Edge(node_id, target, p.relation, latency_contribution_ns=p.end - p.start,
                                      on_critical_path=True))
            if p.cause_row >= 0:  # the cause happened elsewhere: a retransmit, the peer's stall
                cause = self._kernel_node(g, p.cause_row, critical=p.end - p.start)
                g.add_edge(model.Edge(cause, node_id, p.relation, latency_contribution_ns=p.end - p.start,
                                      on_critical_path=True))
                node_id = cause
            for c, share in culprits:
                pn = g.add_node(model.Node(_proc_node_id(c.pid), model.PROCESS, f"{c.comm} (pid {c.pid})",
                                           pid=c.pid, tid=c.tid, comm=c.comm, service=c.service))
                pn.on_critical_path = True
                pn.critical_path_ns += int((p.end - p.start) * share)
                g.add_edge(model.Edge(pn.id, node_id, _culprit_relation(mech), inferred=mech not in (model.LOCK_CONTENTION,),
                                      confidence=share, share=share,
                                      latency_contribution_ns=int((p.end - p.start) * share), on_critical_path=True))
        elif mech == SELF and p.row >= 0:
            node_id = self._kernel_node(g, p.row, critical=p.end - p.start)
            g.add_edge(model.Edge(node_id, span_id, p.relation, latency_contribution_ns=p.end - p.start,
                                  on_critical_path=True))
        if mech == SELF:
            culprits = ((model.Culprit(s.pid, "", s.service), 1.0),)
        prev = g.critical_path[-1] if g.critical_path else None
        if (prev and mech == SELF and prev.mechanism == SELF and prev.span_index == idx
                and prev.end_ns == p.start and prev.node_id == node_id):
            prev.end_ns = p.end
            return
        g.critical_path.append(model.Segment(p.start, p.end, idx, mech, node_id, culprits, tuple(p.evidence), s.pid))

    def _kernel_node(self, g: model.CausalGraph, row: int, critical: int = 0) -> str:
        t = self.t
        nid = _event_node_id(t, row)
        n = g.nodes.get(nid)
        if n is None:
            from kprobe.events import EventType

            n = g.add_node(model.Node(nid, model.KERNEL_EVENT, _kernel_label(t, row), int(t.ts[row]), int(t.dur[row]),
                                      int(t.pid[row]), int(t.tid[row]), str(t.comm[row]),
                                      self.services.get(int(t.pid[row]), ""), EventType(int(t.etype[row])).name,
                                      int(t.event_id[row])))
        if critical:
            n.on_critical_path = True
            n.critical_path_ns += critical
        return nid

    def _observed_structure(self, g: model.CausalGraph) -> None:
        """The transaction's own kernel events (capped) in program order, and send -> recv."""
        t = self.t
        mine = (t.txn == g.transaction_id) & (t.etype != T_FAULT)
        mine &= (t.etype != T_SWITCH) | (t.dur >= MIN_SWITCH_NODE_NS)
        rows = np.flatnonzero(mine)
        if len(rows) > MAX_KERNEL_NODES:
            rows = rows[np.argsort(-t.dur[rows], kind="stable")[:MAX_KERNEL_NODES]]
        rows = np.sort(rows)
        span_ids = {s.span_id for s in self.spans}
        for r in rows.tolist():
            nid = self._kernel_node(g, r)
            sid = str(t.span[r])
            if sid in span_ids:
                g.add_edge(model.Edge(nid, f"span:{sid}", model.PROGRAM_ORDER))
        for a, b in program_order(t, rows):
            g.add_edge(model.Edge(_event_node_id(t, a), _event_node_id(t, b), model.PROGRAM_ORDER))
        keep = set(rows.tolist())
        for srow, rrow in send_recv(t, rows):
            if srow in keep or rrow in keep:
                g.add_edge(model.Edge(self._kernel_node(g, srow), self._kernel_node(g, rrow), model.SEND_RECV))


def _is_server(s: AppSpan) -> bool:
    return s.kind.upper().endswith(("SERVER", "CONSUMER"))


def _same_process(a: AppSpan, b: AppSpan) -> bool:
    return (a.pid == b.pid and a.pid != 0) or (not (a.pid and b.pid) and a.service == b.service)


def _culprit_relation(mech: str) -> str:
    return {
        model.MEMORY_RECLAIM_CAUSE: model.MEMORY_PRESSURE,
        model.CPU_CONTENTION: model.RUNQUEUE,
        model.DISK_IO_CAUSE: model.DISK_IO,
        model.TCP_RETRANSMIT: model.RETRANSMIT,
        model.LOCK_CONTENTION: model.LOCK,
        model.DOWNSTREAM_LATENCY: model.WAKEUP,
    }.get(mech, model.WAKEUP)


def build_graph(data: TransactionData) -> model.CausalGraph:
    """The causal graph of one transaction (raises LookupError when there is nothing to build from)."""
    return _Builder(data).build()

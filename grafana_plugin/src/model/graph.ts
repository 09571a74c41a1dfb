/**
 * The causal graph as the panels see it: what the kprobe API's graph becomes
 * after parsing (api/convert.ts) and what the data frames carry (frames/).
 * Absolute times stay decimal strings (see ns.ts).
 */

import { NsString } from './ns';

/** `process`: a process outside the transaction the engine names as a cause (a culprit). */
export type NodeKind = 'transaction' | 'span' | 'kernel' | 'process';

export type FieldValue = string | number | boolean;

export interface CausalNode {
  id: string;
  kind: NodeKind;
  /** What happened: an operation name for spans, the event type for kernel events. */
  name: string;
  service?: string;
  pid?: number;
  tid?: number;
  comm?: string;
  /** Kernel event type (events.proto's EventType name) for kernel nodes. */
  eventType?: string;
  startNs: NsString;
  durationNs: number;
  status: 'ok' | 'error' | 'unset';
  /** The span (or transaction) this node ran on behalf of, when the join found one. */
  parentId?: string;
  /** Every other field of the event or span, keyed by its proto / OTel name. */
  fields: Record<string, FieldValue>;
}

export interface CausalEdge {
  id: string;
  source: string;
  target: string;
  /** Relation type, e.g. program-order, parent-child, send-recv, wakeup, reclaim. */
  relation: string;
  /** Observed directly in the kernel, or inferred (then with a confidence). */
  observed: boolean;
  confidence?: number;
  latencyContributionNs: number;
  /** On the transaction's critical path. */
  critical: boolean;
}

export interface RootCause {
  mechanism: string;
  culprit?: { pid?: number; comm?: string; service?: string };
  contributionNs: number;
  evidence: string[];
  /** One sentence: the financial story. */
  summary?: string;
  /** The node the engine names as the cause, when it is in the graph. */
  nodeId?: string;
}

export interface CausalGraph {
  transactionId: string;
  status: string;
  latencyNs: number;
  /** The node at the top: the transaction itself. */
  rootNodeId: string;
  rootCause?: RootCause;
  /** Nodes from the transaction down to the root cause. */
  chain: string[];
  /** Nodes on the critical path, in order. */
  criticalPath: string[];
  nodes: CausalNode[];
  edges: CausalEdge[];
  /** The engine's story, one line per step (`kprobe explain`). */
  story?: string[];
}

/** Node ids indexed for lookups (graphs of a few thousand nodes are searched often). */
export function indexNodes(graph: CausalGraph): Map<string, CausalNode> {
  return new Map(graph.nodes.map((n) => [n.id, n]));
}

/** Ids of the edges on the critical path. */
export function criticalEdgeIds(graph: CausalGraph): Set<string> {
  return new Set(graph.edges.filter((e) => e.critical).map((e) => e.id));
}

/** Ids of edges joining consecutive nodes of `path`, in either direction. */
export function edgesAlong(graph: CausalGraph, path: string[]): Set<string> {
  const byPair = new Map<string, string>();
  for (const e of graph.edges) {
    byPair.set(`${e.source}\u0000${e.target}`, e.id);
    byPair.set(`${e.target}\u0000${e.source}`, e.id);
  }
  const out = new Set<string>();
  for (let i = 1; i < path.length; i++) {
    const id = byPair.get(`${path[i - 1]}\u0000${path[i]}`);
    if (id !== undefined) {
      out.add(id);
    }
  }
  return out;
}

/**
 * The kernel events a node stands for: itself when it is one, else every
 * kernel node that ran on behalf of it or of its descendant spans, in time order.
 */
export function kernelEventsOf(graph: CausalGraph, nodeId: string): CausalNode[] {
  const children = new Map<string, CausalNode[]>();
  for (const n of graph.nodes) {
    if (n.parentId !== undefined) {
      const list = children.get(n.parentId) ?? [];
      list.push(n);
      children.set(n.parentId, list);
    }
  }
  const self = graph.nodes.find((n) => n.id === nodeId);
  if (!self) {
    return [];
  }
  if (self.kind === 'kernel') {
    return [self];
  }
  const out: CausalNode[] = [];
  const seen = new Set<string>([nodeId]);
  const stack = [...(children.get(nodeId) ?? [])];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n.id)) {
      continue;
    }
    seen.add(n.id);
    if (n.kind === 'kernel') {
      out.push(n);
    }
    stack.push(...(children.get(n.id) ?? []));
  }
  return out.sort((a, b) => compareNs(a.startNs, b.startNs));
}

export function compareNs(a: NsString, b: NsString): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A short label for a node: "SyscallWrite fd=7" or "settlement POST /settle". */
export function nodeLabel(n: CausalNode): string {
  if (n.kind === 'process') {
    return n.name;
  }
  if (n.kind === 'kernel') {
    const who = n.comm ? ` ${n.comm}` : '';
    return `${n.eventType ?? n.name}${who}`;
  }
  return n.service && !n.name.startsWith(n.service) ? `${n.service}: ${n.name}` : n.name;
}

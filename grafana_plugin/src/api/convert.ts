/**
 * API messages (generated types) → the panels' model.
 *
 * Node ids are re-keyed to ids both the graph and the timeline can derive
 * from the same event or span: `ev:<event_id>`, `span:<span_id>`,
 * `txn:<transaction_id>`; so hovering an event in the timeline finds it in
 * the graph whatever ids the engine chose.
 */

import { type AppSpan, type TransactionSummary, TransactionStatus } from './gen/kprobe/v1/api_common';
import {
  type CausalGraph as ApiGraph,
  type CausalNode as ApiNode,
  NodeKind as ApiNodeKind,
} from './gen/kprobe/v1/causal_graph';
import type { KernelEvent } from './gen/kprobe/v1/events';
import type { TransactionTimeline } from './gen/kprobe/v1/timeline';
import { CausalEdge, CausalGraph, CausalNode, FieldValue, NodeKind } from '../model/graph';
import { TimelineItem } from '../model/timeline';

export const txnNodeId = (transactionId: string) => `txn:${transactionId}`;
export const spanNodeId = (spanId: string) => `span:${spanId}`;
export const eventNodeId = (eventId: string) => `ev:${eventId}`;

const KIND: Record<string, NodeKind> = {
  [ApiNodeKind.NODE_KIND_TRANSACTION]: 'transaction',
  [ApiNodeKind.NODE_KIND_SPAN]: 'span',
  [ApiNodeKind.NODE_KIND_KERNEL_EVENT]: 'kernel',
  [ApiNodeKind.NODE_KIND_PROCESS]: 'process',
};

/** Fields every event has, shown in the node's header rather than among its fields. */
const COMMON_EVENT_FIELDS = new Set(['event_id', 'timestamp_ns', 'duration_ns', 'pid', 'tid', 'comm', 'event_type']);

export function statusName(s?: TransactionStatus): 'ok' | 'error' | 'unset' {
  return s === TransactionStatus.TRANSACTION_STATUS_ERROR
    ? 'error'
    : s === TransactionStatus.TRANSACTION_STATUS_OK
      ? 'ok'
      : 'unset';
}

export function graphFromApi(api: ApiGraph): CausalGraph {
  const txn = api.transaction ?? {};
  const transactionId = txn.transaction_id ?? '';
  const rekey = new Map<string, string>();
  for (const n of api.nodes ?? []) {
    rekey.set(n.id ?? '', canonicalId(n, transactionId));
  }
  const id = (raw?: string) => rekey.get(raw ?? '') ?? raw ?? '';

  const edges: CausalEdge[] = (api.edges ?? []).map((e) => ({
    id: `${id(e.source)}→${id(e.target)}:${e.relation ?? ''}`,
    source: id(e.source),
    target: id(e.target),
    relation: e.relation ?? '',
    observed: !e.inferred,
    confidence: e.inferred ? (e.confidence ?? 0) : undefined,
    latencyContributionNs: Number(e.latency_contribution_ns ?? 0),
    critical: Boolean(e.on_critical_path),
  }));

  const kindOf = new Map<string, NodeKind>();
  for (const n of api.nodes ?? []) {
    kindOf.set(id(n.id), KIND[n.kind ?? ''] ?? 'kernel');
  }
  const parentOf = parentsFromEdges(edges, kindOf);

  const nodes: CausalNode[] = (api.nodes ?? []).map((n) => {
    const nid = id(n.id);
    const kind = kindOf.get(nid)!;
    const event = n.event;
    return {
      id: nid,
      kind,
      name: nodeName(n, kind),
      service: n.service || undefined,
      pid: n.pid || undefined,
      tid: n.tid || undefined,
      comm: n.comm || undefined,
      eventType: n.event_type && n.event_type !== 'EVENT_TYPE_UNSPECIFIED' ? n.event_type : undefined,
      startNs: n.start_ns ?? txn.start_ns ?? '0',
      durationNs: Number(n.duration_ns ?? 0),
      status: nodeStatus(n, kind, txn),
      parentId: parentOf.get(nid),
      fields: nodeFields(n, event),
    };
  });

  const critical = nodes
    .filter((n, i) => (api.nodes ?? [])[i].on_critical_path)
    .sort((a, b) => (BigInt(a.startNs) < BigInt(b.startNs) ? -1 : 1))
    .map((n) => n.id);
  const rc = api.root_cause;
  return {
    transactionId,
    status: statusName(txn.status) === 'error' ? 'failed' : statusName(txn.status),
    latencyNs: Number(api.end_to_end_latency_ns ?? txn.duration_ns ?? 0),
    rootNodeId: txnNodeId(transactionId),
    rootCause: rc
      ? {
          mechanism: rc.mechanism ?? 'none',
          culprit: rc.culprit ? { pid: rc.culprit.pid, comm: rc.culprit.comm, service: rc.culprit.service } : undefined,
          contributionNs: Number(rc.contribution_ns ?? 0),
          evidence: rc.evidence ?? [],
          summary: rc.summary,
          nodeId: rc.node_id ? id(rc.node_id) : undefined,
        }
      : undefined,
    chain: (api.chain ?? []).map((s) => id(s.node_id)),
    criticalPath: critical,
    nodes,
    edges,
    story: api.story,
  };
}

function nodeStatus(n: ApiNode, kind: NodeKind, txn: TransactionSummary): CausalNode['status'] {
  if (kind === 'transaction') {
    return statusName(txn.status);
  }
  const s = n.attributes?.status?.toUpperCase();
  if (s === 'ERROR' || (n.event && Number(n.event.ret ?? 0) < 0)) {
    return 'error';
  }
  return s === 'OK' ? 'ok' : 'unset';
}

function canonicalId(n: ApiNode, transactionId: string): string {
  switch (n.kind) {
    case ApiNodeKind.NODE_KIND_TRANSACTION:
      return txnNodeId(transactionId);
    case ApiNodeKind.NODE_KIND_SPAN:
      return n.span_id ? spanNodeId(n.span_id) : (n.id ?? '');
    case ApiNodeKind.NODE_KIND_KERNEL_EVENT:
      return n.event_id && n.event_id !== '0' ? eventNodeId(n.event_id) : (n.id ?? '');
    default:
      return n.id ?? '';
  }
}

/**
 * What each node ran on behalf of, from cause → effect edges: a span's parent
 * is the span (or transaction) it is a child of; a kernel event's is the span
 * it delayed, else the event it delayed; a culprit's is what it delayed.
 */
function parentsFromEdges(edges: CausalEdge[], kindOf: Map<string, NodeKind>): Map<string, string> {
  const rank = (k?: NodeKind) => (k === 'span' ? 0 : k === 'transaction' ? 1 : k === 'kernel' ? 2 : 3);
  const parent = new Map<string, string>();
  for (const e of edges) {
    const k = kindOf.get(e.source);
    if (k === 'transaction' || e.source === e.target) {
      continue;
    }
    if (k === 'span' && e.relation !== 'parent-child') {
      continue;
    }
    const current = parent.get(e.source);
    if (current === undefined || rank(kindOf.get(e.target)) < rank(kindOf.get(current))) {
      parent.set(e.source, e.target);
    }
  }
  return parent;
}

function nodeName(n: ApiNode, kind: NodeKind): string {
  if (kind === 'kernel' && n.event_type && n.event_type !== 'EVENT_TYPE_UNSPECIFIED') {
    return n.event_type;
  }
  return n.label || n.id || '';
}

function nodeFields(n: ApiNode, event?: KernelEvent): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  if (n.label) {
    out.label = n.label;
  }
  if (n.event_id && n.event_id !== '0') {
    out.event_id = n.event_id;
  }
  if (n.span_id) {
    out.span_id = n.span_id;
  }
  if (n.critical_path_ns && n.critical_path_ns !== '0') {
    out.critical_path_ns = n.critical_path_ns;
  }
  for (const [k, v] of Object.entries(event ?? {})) {
    if (COMMON_EVENT_FIELDS.has(k) || v === undefined) {
      continue;
    }
    if (k === 'financial_context' && typeof v === 'object') {
      for (const [fk, fv] of Object.entries(v as Record<string, unknown>)) {
        if (fv !== undefined && fv !== '') {
          out[`financial_context.${fk}`] = fv as FieldValue;
        }
      }
    } else {
      out[k] = v as FieldValue;
    }
  }
  for (const [k, v] of Object.entries(n.attributes ?? {})) {
    out[k] = v;
  }
  return out;
}

/** Timeline items of a transaction: the transaction itself, its spans and its kernel events. */
export function itemsFromTimeline(t: TransactionTimeline): TimelineItem[] {
  const txn: TransactionSummary = t.transaction ?? {};
  const transactionId = txn.transaction_id ?? '';
  const spanIds = new Set((t.spans ?? []).map((s) => s.span_id));
  const items: TimelineItem[] = [];
  if (txn.start_ns) {
    items.push({
      id: txnNodeId(transactionId),
      kind: 'transaction',
      name: `${txn.operation ?? 'transaction'} ${transactionId}`,
      service: txn.service,
      startNs: txn.start_ns,
      durationNs: Number(txn.duration_ns ?? 0),
      status: statusName(txn.status),
    });
  }
  for (const s of t.spans ?? []) {
    items.push(spanItem(s, spanIds, transactionId));
  }
  for (const e of t.events ?? []) {
    items.push(eventItem(e, spanIds));
  }
  return items;
}

function spanItem(s: AppSpan, spanIds: Set<string | undefined>, transactionId: string): TimelineItem {
  return {
    id: spanNodeId(s.span_id ?? ''),
    kind: 'span',
    name: s.name ?? '',
    service: s.service,
    startNs: s.start_ns ?? '0',
    durationNs: Number(s.duration_ns ?? 0),
    status: statusName(s.status),
    parentId:
      s.parent_span_id && spanIds.has(s.parent_span_id) ? spanNodeId(s.parent_span_id) : txnNodeId(transactionId),
    fields: { ...(s.attributes ?? {}) },
  };
}

function eventItem(e: KernelEvent, spanIds: Set<string | undefined>): TimelineItem {
  const ctx = e.financial_context ?? {};
  const fields: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(e)) {
    if (!COMMON_EVENT_FIELDS.has(k) && k !== 'financial_context' && v !== undefined) {
      fields[k] = v as FieldValue;
    }
  }
  return {
    id: eventNodeId(e.event_id ?? '0'),
    kind: 'kernel',
    name: e.event_type ?? 'event',
    service: ctx.service || undefined,
    pid: e.pid,
    tid: e.tid,
    comm: e.comm,
    eventType: e.event_type,
    startNs: e.timestamp_ns ?? '0',
    durationNs: Number(e.duration_ns ?? 0),
    status: Number(e.ret ?? 0) < 0 ? 'error' : 'unset',
    parentId: ctx.span_id && spanIds.has(ctx.span_id) ? spanNodeId(ctx.span_id) : undefined,
    fields,
  };
}

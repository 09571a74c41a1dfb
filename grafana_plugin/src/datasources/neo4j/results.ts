/**
 * Neo4j Query API results as frames. Plain JSON results carry nodes as
 * {elementId, labels, properties}, relationships as {elementId,
 * startNodeElementId, endNodeElementId, type, properties} and paths as
 * alternating lists of both. Tables keep one column per returned field; graph
 * results become the processor's graph model (graphstore/cypher.py: labels,
 * relationship types, properties) and then the same Node Graph frames the
 * kprobe data source produces.
 */

import { DataFrame, FieldType, createDataFrame } from '@grafana/data';

import { graphToFrames } from '../../frames/nodeGraph';
import { CausalEdge, CausalGraph, CausalNode, FieldValue, NodeKind } from '../../model/graph';
import { QueryApiResponse } from './types';

interface Neo4jNode {
  elementId: string;
  labels: string[];
  properties: Record<string, unknown>;
}

interface Neo4jRelationship {
  elementId: string;
  startNodeElementId: string;
  endNodeElementId: string;
  type: string;
  properties: Record<string, unknown>;
}

export class Neo4jQueryError extends Error {}

export function checkResponse(r: QueryApiResponse): { fields: string[]; values: unknown[][] } {
  if (r.errors && r.errors.length > 0) {
    throw new Neo4jQueryError(r.errors.map((e) => `${e.code}: ${e.message}`).join('; '));
  }
  if (!r.data) {
    throw new Neo4jQueryError('Neo4j answered without data or errors: is this the Query API (/db/<db>/query/v2)?');
  }
  return r.data;
}

export function tableFrame(refId: string, r: QueryApiResponse): DataFrame {
  const { fields, values } = checkResponse(r);
  return createDataFrame({
    refId,
    fields: fields.map((name, col) => {
      const column = values.map((row) => row[col]);
      const sample = column.find((v) => v !== null && v !== undefined);
      const type =
        typeof sample === 'number'
          ? FieldType.number
          : typeof sample === 'boolean'
            ? FieldType.boolean
            : FieldType.string;
      return {
        name,
        type,
        values: column.map((v) =>
          v === null || v === undefined
            ? null
            : type === FieldType.string && typeof v !== 'string'
              ? JSON.stringify(v)
              : v
        ),
      };
    }),
  });
}

const KIND_BY_LABEL: Record<string, NodeKind> = {
  Transaction: 'transaction',
  Span: 'span',
  KernelEvent: 'kernel',
  Process: 'process',
};

export function graphFromResult(r: QueryApiResponse): CausalGraph {
  const { values } = checkResponse(r);
  const nodes = new Map<string, Neo4jNode>();
  const rels = new Map<string, Neo4jRelationship>();
  const visit = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (isRelationship(v)) {
      rels.set(v.elementId, v);
    } else if (isNode(v)) {
      nodes.set(v.elementId, v);
    }
  };
  values.forEach((row) => row.forEach(visit));

  const idOf = (elementId: string) => String(nodes.get(elementId)?.properties.id ?? elementId);
  const causalNodes: CausalNode[] = [...nodes.values()].map(toCausalNode);
  const known = new Set(causalNodes.map((n) => n.id));
  const rootCause = [...rels.values()].find((e) => e.type === 'ROOT_CAUSE_OF');
  const edges: CausalEdge[] = [...rels.values()]
    .filter((e) => e.type !== 'ROOT_CAUSE_OF')
    .map((e) => ({
      id: e.elementId,
      source: idOf(e.startNodeElementId),
      target: idOf(e.endNodeElementId),
      relation: e.type.toLowerCase().replace(/_/g, '-'),
      observed: !e.properties.inferred,
      confidence: e.properties.inferred ? Number(e.properties.confidence ?? 0) : undefined,
      latencyContributionNs: Number(e.properties.latency_contribution_ns ?? 0),
      critical: Boolean(e.properties.on_critical_path),
    }))
    .filter((e) => known.has(e.source) && known.has(e.target));
  const txn = causalNodes.find((n) => n.kind === 'transaction');
  const txnProps = [...nodes.values()].find((n) => n.labels.includes('Transaction'))?.properties ?? {};
  return {
    transactionId: String(txnProps.txn ?? causalNodes[0]?.fields.txn ?? ''),
    status: String(txnProps.status ?? ''),
    latencyNs: Number(txnProps.duration_ns ?? 0),
    rootNodeId: txn?.id ?? causalNodes[0]?.id ?? '',
    rootCause: rootCause
      ? {
          mechanism: String(rootCause.properties.mechanism ?? ''),
          contributionNs: Number(rootCause.properties.contribution_ns ?? 0),
          evidence: [],
          nodeId: idOf(rootCause.startNodeElementId),
          culprit: txnProps.root_pid
            ? {
                pid: Number(txnProps.root_pid),
                comm: String(txnProps.root_comm ?? ''),
                service: String(txnProps.root_service ?? ''),
              }
            : undefined,
        }
      : undefined,
    chain: Array.isArray(txnProps.chain) ? txnProps.chain.map(String) : [],
    criticalPath: causalNodes.filter((n) => n.fields.on_critical_path === true).map((n) => n.id),
    nodes: causalNodes,
    edges,
  };
}

export function nodeGraphFrames(refId: string, r: QueryApiResponse): DataFrame[] {
  return graphToFrames(graphFromResult(r), refId);
}

function toCausalNode(n: Neo4jNode): CausalNode {
  const p = n.properties;
  const kind = n.labels.map((l) => KIND_BY_LABEL[l]).find(Boolean) ?? 'kernel';
  const fields: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v !== null && v !== undefined) {
      fields[k] = typeof v === 'object' ? JSON.stringify(v) : (v as FieldValue);
    }
  }
  return {
    id: String(p.id ?? n.elementId),
    kind,
    name: String(p.event_type ?? p.label ?? p.operation ?? p.comm ?? n.labels.join(':')),
    service: p.service ? String(p.service) : undefined,
    pid: p.pid !== undefined ? Number(p.pid) : undefined,
    tid: p.tid !== undefined ? Number(p.tid) : undefined,
    comm: p.comm ? String(p.comm) : undefined,
    eventType: p.event_type ? String(p.event_type) : undefined,
    // Start times are integers in Neo4j; a driver-free JSON result gives them as numbers.
    startNs: p.start_ns !== undefined ? BigInt(Math.round(Number(p.start_ns))).toString() : '0',
    durationNs: Number(p.duration_ns ?? 0),
    status: p.status === 'ERROR' || p.status === 'error' ? 'error' : 'unset',
    fields,
  };
}

function isNode(v: unknown): v is Neo4jNode {
  return typeof v === 'object' && v !== null && 'elementId' in v && 'labels' in v;
}

function isRelationship(v: unknown): v is Neo4jRelationship {
  return typeof v === 'object' && v !== null && 'startNodeElementId' in v && 'type' in v;
}

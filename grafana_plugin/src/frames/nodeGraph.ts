/**
 * A causal graph as Grafana Node Graph frames (`nodes` + `edges`), the format
 * Grafana's own Node Graph panel reads, with every field our causal graph
 * panel needs carried in `detail__*` fields (which Node Graph shows in its
 * context menu) and the graph's verdict in `meta.custom`. So one query feeds
 * both panels, and `framesToGraph` is the exact inverse of `graphToFrames`.
 */

import { DataFrame, FieldType, NodeGraphDataFrameFieldNames as F, createDataFrame } from '@grafana/data';

import { CausalEdge, CausalGraph, CausalNode, FieldValue, NodeKind, criticalEdgeIds } from '../model/graph';
import { contributionColor, contributionWidth } from '../model/style';
import { formatDuration } from '../model/ns';

export const NODES_FRAME = 'nodes';
export const EDGES_FRAME = 'edges';

export interface GraphMeta {
  transactionId: string;
  status: string;
  latencyNs: number;
  rootNodeId: string;
  rootCause?: CausalGraph['rootCause'];
  chain: string[];
  criticalPath: string[];
  story?: string[];
}

const ARC_CRITICAL = `${F.arc}critical`;
const ARC_REST = `${F.arc}rest`;

export function graphToFrames(graph: CausalGraph, refId = graph.transactionId): [DataFrame, DataFrame] {
  const critical = new Set(graph.criticalPath);
  const criticalEdges = criticalEdgeIds(graph);
  const rootCauseId = graph.rootCause?.nodeId;
  const maxContribution = Math.max(1, ...graph.edges.map((e) => e.latencyContributionNs));
  const nodes = graph.nodes;
  const meta: GraphMeta = {
    transactionId: graph.transactionId,
    status: graph.status,
    latencyNs: graph.latencyNs,
    rootNodeId: graph.rootNodeId,
    rootCause: graph.rootCause,
    chain: graph.chain,
    criticalPath: graph.criticalPath,
    story: graph.story,
  };
  const nodesFrame = createDataFrame({
    name: NODES_FRAME,
    refId,
    meta: { preferredVisualisationType: 'nodeGraph', custom: meta },
    fields: [
      { name: F.id, type: FieldType.string, values: nodes.map((n) => n.id) },
      { name: F.title, type: FieldType.string, values: nodes.map((n) => n.name) },
      { name: F.subTitle, type: FieldType.string, values: nodes.map(subtitle) },
      {
        name: F.mainStat,
        type: FieldType.number,
        config: { displayName: 'Duration', unit: 'ns' },
        values: nodes.map((n) => n.durationNs),
      },
      {
        name: F.secondaryStat,
        type: FieldType.string,
        config: { displayName: 'Kind' },
        values: nodes.map((n) => n.eventType ?? n.kind),
      },
      {
        name: ARC_CRITICAL,
        type: FieldType.number,
        config: { displayName: 'On the critical path', color: { mode: 'fixed', fixedColor: 'red' } },
        values: nodes.map((n) => (critical.has(n.id) ? 1 : 0)),
      },
      {
        name: ARC_REST,
        type: FieldType.number,
        config: { displayName: 'Off the critical path', color: { mode: 'fixed', fixedColor: 'blue' } },
        values: nodes.map((n) => (critical.has(n.id) ? 0 : 1)),
      },
      { name: F.highlighted, type: FieldType.boolean, values: nodes.map((n) => n.id === rootCauseId) },
      { name: `${F.detail}kind`, type: FieldType.string, values: nodes.map((n) => n.kind) },
      { name: `${F.detail}event_type`, type: FieldType.string, values: nodes.map((n) => n.eventType ?? '') },
      { name: `${F.detail}service`, type: FieldType.string, values: nodes.map((n) => n.service ?? '') },
      { name: `${F.detail}pid`, type: FieldType.number, values: nodes.map((n) => n.pid ?? null) },
      { name: `${F.detail}tid`, type: FieldType.number, values: nodes.map((n) => n.tid ?? null) },
      { name: `${F.detail}comm`, type: FieldType.string, values: nodes.map((n) => n.comm ?? '') },
      // Absolute ns do not fit a JS number: strings, parsed with BigInt (model/ns.ts).
      { name: `${F.detail}start_ns`, type: FieldType.string, values: nodes.map((n) => n.startNs) },
      { name: `${F.detail}duration_ns`, type: FieldType.number, values: nodes.map((n) => n.durationNs) },
      { name: `${F.detail}status`, type: FieldType.string, values: nodes.map((n) => n.status) },
      { name: `${F.detail}parent_id`, type: FieldType.string, values: nodes.map((n) => n.parentId ?? '') },
      {
        name: `${F.detail}fields`,
        type: FieldType.string,
        config: { displayName: 'Fields' },
        values: nodes.map((n) => JSON.stringify(n.fields)),
      },
    ],
  });
  const edges = graph.edges;
  const edgesFrame = createDataFrame({
    name: EDGES_FRAME,
    refId,
    meta: { preferredVisualisationType: 'nodeGraph' },
    fields: [
      { name: F.id, type: FieldType.string, values: edges.map((e) => e.id) },
      { name: F.source, type: FieldType.string, values: edges.map((e) => e.source) },
      { name: F.target, type: FieldType.string, values: edges.map((e) => e.target) },
      {
        name: F.mainStat,
        type: FieldType.string,
        config: { displayName: 'Latency contribution' },
        values: edges.map((e) => formatDuration(e.latencyContributionNs)),
      },
      { name: F.secondaryStat, type: FieldType.string, values: edges.map((e) => e.relation) },
      {
        name: F.thickness,
        type: FieldType.number,
        values: edges.map((e) => contributionWidth(e.latencyContributionNs, maxContribution)),
      },
      {
        name: F.color,
        type: FieldType.string,
        values: edges.map((e) => contributionColor(e.latencyContributionNs, maxContribution)),
      },
      { name: F.highlighted, type: FieldType.boolean, values: edges.map((e) => criticalEdges.has(e.id)) },
      { name: F.strokeDasharray, type: FieldType.string, values: edges.map((e) => (e.observed ? '' : '6 3')) },
      { name: `${F.detail}relation`, type: FieldType.string, values: edges.map((e) => e.relation) },
      { name: `${F.detail}observed`, type: FieldType.boolean, values: edges.map((e) => e.observed) },
      { name: `${F.detail}confidence`, type: FieldType.number, values: edges.map((e) => e.confidence ?? null) },
      {
        name: `${F.detail}latency_contribution_ns`,
        type: FieldType.number,
        config: { unit: 'ns' },
        values: edges.map((e) => e.latencyContributionNs),
      },
    ],
  });
  return [nodesFrame, edgesFrame];
}

function subtitle(n: CausalNode): string {
  const who = [n.service, n.comm && n.pid !== undefined ? `${n.comm} ${n.pid}/${n.tid ?? n.pid}` : n.comm]
    .filter(Boolean)
    .join(' · ');
  return `${who}${who ? ' · ' : ''}${formatDuration(n.durationNs)}`;
}

/** The causal graph in a query result, or undefined when the frames hold none. */
export function framesToGraph(frames: DataFrame[]): CausalGraph | undefined {
  const nodesFrame = frames.find((f) => f.name === NODES_FRAME && f.meta?.custom?.transactionId !== undefined);
  if (!nodesFrame) {
    return undefined;
  }
  const edgesFrame = frames.find((f) => f.name === EDGES_FRAME && f.refId === nodesFrame.refId);
  const meta = nodesFrame.meta!.custom as GraphMeta;
  const col = (frame: DataFrame, name: string) => frame.fields.find((f) => f.name === name)?.values ?? [];
  const n = col(nodesFrame, F.id);
  const d = (name: string) => col(nodesFrame, `${F.detail}${name}`);
  const nodes: CausalNode[] = n.map((id, i) => ({
    id: String(id),
    kind: d('kind')[i] as NodeKind,
    name: String(col(nodesFrame, F.title)[i]),
    service: d('service')[i] || undefined,
    pid: d('pid')[i] ?? undefined,
    tid: d('tid')[i] ?? undefined,
    comm: d('comm')[i] || undefined,
    eventType: d('event_type')[i] || undefined,
    startNs: String(d('start_ns')[i]),
    durationNs: Number(d('duration_ns')[i]),
    status: d('status')[i] as CausalNode['status'],
    parentId: d('parent_id')[i] || undefined,
    fields: JSON.parse(String(d('fields')[i] ?? '{}')) as Record<string, FieldValue>,
  }));
  const edges: CausalEdge[] = edgesFrame
    ? col(edgesFrame, F.id).map((id, i) => ({
        id: String(id),
        source: String(col(edgesFrame, F.source)[i]),
        target: String(col(edgesFrame, F.target)[i]),
        relation: String(col(edgesFrame, `${F.detail}relation`)[i]),
        observed: Boolean(col(edgesFrame, `${F.detail}observed`)[i]),
        confidence: col(edgesFrame, `${F.detail}confidence`)[i] ?? undefined,
        latencyContributionNs: Number(col(edgesFrame, `${F.detail}latency_contribution_ns`)[i]),
        critical: Boolean(col(edgesFrame, F.highlighted)[i]),
      }))
    : [];
  return { ...meta, nodes, edges };
}

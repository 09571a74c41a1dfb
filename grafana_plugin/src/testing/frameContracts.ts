/**
 * What Grafana's own panels require of a frame, as checks: the Node Graph
 * panel's `nodes`/`edges` frames and the Traces panel's span rows
 * (`TraceSpanRow`). Used by the data sources' tests so every frame we hand
 * Grafana is checked against the format, not against our own reader.
 */

import { DataFrame, FieldType, NodeGraphDataFrameFieldNames as F, TraceSpanRow } from '@grafana/data';

const NODE_FIELDS = new Set<string>(Object.values(F));

function field(frame: DataFrame, name: string) {
  return frame.fields.find((f) => f.name === name);
}

/** Problems with a nodes + edges pair as Grafana's Node Graph reads it (empty = valid). */
export function nodeGraphProblems(nodes: DataFrame, edges: DataFrame): string[] {
  const out: string[] = [];
  const known = (frame: DataFrame, what: string) => {
    for (const f of frame.fields) {
      if (!NODE_FIELDS.has(f.name) && !f.name.startsWith(F.arc) && !f.name.startsWith(F.detail)) {
        out.push(`${what} field ${f.name} is not a Node Graph field`);
      }
    }
  };
  known(nodes, 'nodes');
  known(edges, 'edges');
  if (
    nodes.meta?.preferredVisualisationType !== 'nodeGraph' ||
    edges.meta?.preferredVisualisationType !== 'nodeGraph'
  ) {
    out.push('frames must prefer the nodeGraph visualisation');
  }
  const ids = field(nodes, F.id);
  if (!ids || ids.type !== FieldType.string) {
    out.push('nodes need a string `id` field');
    return out;
  }
  const idSet = new Set(ids.values);
  if (idSet.size !== ids.values.length) {
    out.push('node ids are not unique');
  }
  for (const name of [F.mainStat, F.secondaryStat, F.title, F.subTitle]) {
    if (field(nodes, name) && field(nodes, name)!.values.length !== nodes.length) {
      out.push(`nodes.${name} has the wrong length`);
    }
  }
  const arcs = nodes.fields.filter((f) => f.name.startsWith(F.arc));
  for (const a of arcs) {
    if (a.type !== FieldType.number || !a.config.color?.fixedColor) {
      out.push(`${a.name} must be a number field with config.color.fixedColor`);
    }
  }
  if (arcs.length > 0) {
    for (let i = 0; i < nodes.length; i++) {
      const sum = arcs.reduce((s, a) => s + Number(a.values[i]), 0);
      if (Math.abs(sum - 1) > 1e-9) {
        out.push(`arc__ values of node ${ids.values[i]} sum to ${sum}, not 1`);
        break;
      }
    }
  }
  for (const name of [F.id, F.source, F.target]) {
    if (field(edges, name)?.type !== FieldType.string) {
      out.push(`edges need a string \`${name}\` field`);
    }
  }
  const src = field(edges, F.source)?.values ?? [];
  const dst = field(edges, F.target)?.values ?? [];
  for (let i = 0; i < edges.length; i++) {
    if (!idSet.has(src[i]) || !idSet.has(dst[i])) {
      out.push(`edge ${i} joins unknown nodes ${src[i]} → ${dst[i]}`);
      break;
    }
  }
  const thickness = field(edges, F.thickness);
  if (thickness && thickness.values.some((v) => typeof v !== 'number' || v <= 0)) {
    out.push('edge thickness must be positive numbers');
  }
  return out;
}

const TRACE_REQUIRED: Array<[keyof TraceSpanRow, FieldType]> = [
  ['traceID', FieldType.string],
  ['spanID', FieldType.string],
  ['parentSpanID', FieldType.string],
  ['operationName', FieldType.string],
  ['serviceName', FieldType.string],
  ['serviceTags', FieldType.other],
  ['startTime', FieldType.number],
  ['duration', FieldType.number],
];

/** Problems with a frame as Grafana's Traces panel reads it (empty = valid). */
export function traceFrameProblems(frame: DataFrame): string[] {
  const out: string[] = [];
  if (frame.meta?.preferredVisualisationType !== 'trace') {
    out.push('frame must prefer the trace visualisation');
  }
  for (const [name, type] of TRACE_REQUIRED) {
    const f = field(frame, name);
    if (!f) {
      out.push(`missing ${name}`);
    } else if (f.type !== type) {
      out.push(`${name} is ${f.type}, not ${type}`);
    }
  }
  if (out.length > 0) {
    return out;
  }
  const spanIds = new Set(field(frame, 'spanID')!.values);
  const traceIds = new Set(field(frame, 'traceID')!.values);
  if (traceIds.size !== 1) {
    out.push(`one trace per frame, got ${traceIds.size}`);
  }
  const roots = field(frame, 'parentSpanID')!.values.filter((p) => p === undefined || p === null || p === '');
  if (roots.length < 1) {
    out.push('no root span');
  }
  field(frame, 'parentSpanID')!.values.forEach((p, i) => {
    if (p && !spanIds.has(p)) {
      out.push(`span ${i} has a parent ${p} outside the trace`);
    }
  });
  for (const name of ['serviceTags', 'tags'] as const) {
    const f = field(frame, name);
    f?.values.forEach((tags: unknown) => {
      if (!Array.isArray(tags) || tags.some((t) => typeof t?.key !== 'string' || !('value' in t))) {
        out.push(`${name} must be lists of {key, value}`);
      }
    });
  }
  const starts = field(frame, 'startTime')!.values;
  if (starts.some((s) => typeof s !== 'number' || s < 1e12 || s > 1e14)) {
    out.push('startTime must be epoch milliseconds');
  }
  return out;
}

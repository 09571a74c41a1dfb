/**
 * Spans and kernel events as a Grafana Traces frame (one row per span, the
 * `TraceSpanRow` fields), so Grafana's own Traces panel shows a transaction
 * with its kernel events as child spans. That format is float milliseconds;
 * two extra fields keep the exact times for our timeline: `startTimeUnixNano`
 * (decimal string) and `durationNanos`.
 */

import { DataFrame, FieldType, TraceKeyValuePair, createDataFrame } from '@grafana/data';

import { TimelineItem } from '../model/timeline';
import { parseNs, splitMsNanos } from '../model/ns';

export const TRACE_FRAME = 'trace';

/** OTel span status codes as Grafana's trace view reads them. */
const STATUS_CODE: Record<TimelineItem['status'], number> = { unset: 0, ok: 1, error: 2 };

export function tracesFrame(traceId: string, items: TimelineItem[]): DataFrame {
  const ids = new Set(items.map((i) => i.id));
  const starts = items.map((i) => splitMsNanos(i.startNs));
  return createDataFrame({
    name: TRACE_FRAME,
    refId: traceId,
    meta: { preferredVisualisationType: 'trace' },
    fields: [
      { name: 'traceID', type: FieldType.string, values: items.map(() => traceId) },
      { name: 'spanID', type: FieldType.string, values: items.map((i) => i.id) },
      {
        name: 'parentSpanID',
        type: FieldType.string,
        values: items.map((i) => (i.parentId && ids.has(i.parentId) ? i.parentId : undefined)),
      },
      { name: 'operationName', type: FieldType.string, values: items.map((i) => i.eventType ?? i.name) },
      { name: 'serviceName', type: FieldType.string, values: items.map((i) => i.service ?? i.comm ?? 'kernel') },
      { name: 'serviceTags', type: FieldType.other, values: items.map(serviceTags) },
      // Float ms plus the ns the ms cannot hold, as Grafana's time fields carry them.
      {
        name: 'startTime',
        type: FieldType.number,
        values: items.map((i) => Number(parseNs(i.startNs)) / 1e6),
        nanos: starts.map((s) => s.nanos),
      },
      { name: 'duration', type: FieldType.number, values: items.map((i) => i.durationNs / 1e6) },
      { name: 'tags', type: FieldType.other, values: items.map(tags) },
      { name: 'kind', type: FieldType.string, values: items.map((i) => (i.kind === 'kernel' ? 'internal' : 'server')) },
      { name: 'statusCode', type: FieldType.number, values: items.map((i) => STATUS_CODE[i.status]) },
      { name: 'startTimeUnixNano', type: FieldType.string, values: items.map((i) => i.startNs) },
      { name: 'durationNanos', type: FieldType.number, values: items.map((i) => i.durationNs) },
    ],
  });
}

function serviceTags(i: TimelineItem): TraceKeyValuePair[] {
  const tags: TraceKeyValuePair[] = [];
  if (i.service) {
    tags.push({ key: 'service.name', value: i.service });
  }
  if (i.pid !== undefined) {
    tags.push({ key: 'process.pid', value: i.pid });
  }
  return tags;
}

function tags(i: TimelineItem): TraceKeyValuePair[] {
  const out: TraceKeyValuePair[] = [];
  if (i.kind === 'kernel') {
    out.push({ key: 'kprobe.event_type', value: i.eventType ?? i.name });
    if (i.tid !== undefined) {
      out.push({ key: 'kprobe.tid', value: i.tid });
    }
    if (i.comm) {
      out.push({ key: 'thread.name', value: i.comm });
    }
  }
  for (const [key, value] of Object.entries(i.fields ?? {})) {
    out.push({ key, value });
  }
  return out;
}

/** Timeline items back from a Traces frame, exact when it carries `startTimeUnixNano`. */
export function itemsFromTracesFrame(frame: DataFrame): TimelineItem[] {
  const col = (name: string) => frame.fields.find((f) => f.name === name);
  const get = (name: string, i: number) => col(name)?.values[i];
  const exactStart = col('startTimeUnixNano');
  const startField = col('startTime');
  const out: TimelineItem[] = [];
  for (let i = 0; i < frame.length; i++) {
    const tagList = (get('tags', i) ?? []) as TraceKeyValuePair[];
    const tag = (key: string) => tagList.find((t) => t.key === key)?.value;
    const eventType = tag('kprobe.event_type') as string | undefined;
    const startNs = exactStart
      ? String(exactStart.values[i])
      : (
          BigInt(Math.floor(startField!.values[i])) * BigInt(1_000_000) +
          BigInt(startField!.nanos?.[i] ?? 0)
        ).toString();
    const serviceTagList = (get('serviceTags', i) ?? []) as TraceKeyValuePair[];
    const pid = serviceTagList.find((t) => t.key === 'process.pid')?.value;
    out.push({
      id: String(get('spanID', i)),
      kind: eventType ? 'kernel' : get('parentSpanID', i) ? 'span' : 'transaction',
      name: String(get('operationName', i)),
      service: serviceTagList.find((t) => t.key === 'service.name')?.value,
      pid: pid === undefined ? undefined : Number(pid),
      tid: tag('kprobe.tid') === undefined ? undefined : Number(tag('kprobe.tid')),
      comm: tag('thread.name') as string | undefined,
      eventType,
      startNs,
      durationNs: Number(get('durationNanos', i) ?? Math.round(Number(get('duration', i)) * 1e6)),
      status: (['unset', 'ok', 'error'] as const)[Number(get('statusCode', i) ?? 0)] ?? 'unset',
      parentId: get('parentSpanID', i) || undefined,
    });
  }
  return out;
}

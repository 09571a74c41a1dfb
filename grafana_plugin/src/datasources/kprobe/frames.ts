/**
 * kprobe API responses as data frames: search results and events as tables
 * (exact ns kept as strings next to Grafana time fields), live events appended
 * to a bounded frame.
 */

import { CircularDataFrame, DataFrame, FieldType, createDataFrame } from '@grafana/data';

import { statusName } from '../../api/convert';
import type { TransactionSummary } from '../../api/gen/kprobe/v1/api_common';
import type { KernelEvent } from '../../api/gen/kprobe/v1/events';
import type { RootCauseCount } from '../../api/gen/kprobe/v1/search';
import { splitMsNanos } from '../../model/ns';

export function transactionsFrame(refId: string, txns: TransactionSummary[]): DataFrame {
  const starts = txns.map((t) => splitMsNanos(t.start_ns ?? '0'));
  return createDataFrame({
    refId,
    name: 'transactions',
    meta: { preferredVisualisationType: 'table' },
    fields: [
      { name: 'time', type: FieldType.time, values: starts.map((s) => s.ms), nanos: starts.map((s) => s.nanos) },
      { name: 'transaction_id', type: FieldType.string, values: txns.map((t) => t.transaction_id ?? '') },
      { name: 'service', type: FieldType.string, values: txns.map((t) => t.service ?? '') },
      { name: 'operation', type: FieldType.string, values: txns.map((t) => t.operation ?? '') },
      { name: 'status', type: FieldType.string, values: txns.map((t) => statusName(t.status)) },
      { name: 'status_message', type: FieldType.string, values: txns.map((t) => t.status_message ?? '') },
      {
        name: 'duration',
        type: FieldType.number,
        config: { unit: 'ns' },
        values: txns.map((t) => Number(t.duration_ns ?? 0)),
      },
      { name: 'kernel_events', type: FieldType.number, values: txns.map((t) => Number(t.kernel_event_count ?? 0)) },
      { name: 'spans', type: FieldType.number, values: txns.map((t) => Number(t.span_count ?? 0)) },
      { name: 'trace_id', type: FieldType.string, values: txns.map((t) => t.trace_id ?? '') },
      { name: 'start_ns', type: FieldType.string, values: txns.map((t) => t.start_ns ?? '0') },
    ],
  });
}

export function rootCausesFrame(refId: string, causes: RootCauseCount[]): DataFrame {
  return createDataFrame({
    refId,
    name: 'top_root_causes',
    fields: [
      { name: 'mechanism', type: FieldType.string, values: causes.map((c) => c.mechanism ?? '') },
      { name: 'culprit_pid', type: FieldType.number, values: causes.map((c) => c.culprit?.pid ?? null) },
      { name: 'culprit_comm', type: FieldType.string, values: causes.map((c) => c.culprit?.comm ?? '') },
      { name: 'culprit_service', type: FieldType.string, values: causes.map((c) => c.culprit?.service ?? '') },
      { name: 'transactions', type: FieldType.number, values: causes.map((c) => Number(c.transactions ?? 0)) },
      {
        name: 'contribution',
        type: FieldType.number,
        config: { unit: 'ns' },
        values: causes.map((c) => Number(c.total_contribution_ns ?? 0)),
      },
    ],
  });
}

const EVENT_COLUMNS = [
  'event_type',
  'pid',
  'tid',
  'comm',
  'cpu',
  'fd',
  'bytes',
  'ret',
  'errno',
  'daddr',
  'dport',
] as const;

export function eventsFrame(refId: string, events: KernelEvent[]): DataFrame {
  const frame = createDataFrame({ refId, name: 'events', fields: [] });
  fillEventFields(frame, events);
  return frame;
}

function fillEventFields(frame: DataFrame, events: KernelEvent[]) {
  const starts = events.map((e) => splitMsNanos(e.timestamp_ns ?? '0'));
  frame.fields = [
    {
      name: 'time',
      type: FieldType.time,
      config: {},
      values: starts.map((s) => s.ms),
      nanos: starts.map((s) => s.nanos),
    },
    { name: 'timestamp_ns', type: FieldType.string, config: {}, values: events.map((e) => e.timestamp_ns ?? '0') },
    {
      name: 'duration',
      type: FieldType.number,
      config: { unit: 'ns' },
      values: events.map((e) => Number(e.duration_ns ?? 0)),
    },
    ...EVENT_COLUMNS.map((c) => ({
      name: c,
      type: typeof events.find((e) => e[c] !== undefined)?.[c] === 'number' ? FieldType.number : FieldType.string,
      config: {},
      values: events.map((e) => e[c] ?? null),
    })),
    {
      name: 'transaction_id',
      type: FieldType.string,
      config: {},
      values: events.map((e) => e.financial_context?.transaction_id ?? ''),
    },
    { name: 'event_id', type: FieldType.string, config: {}, values: events.map((e) => e.event_id ?? '') },
  ];
  frame.length = events.length;
}

/** A bounded frame of live events: the newest `capacity` rows. */
export function liveFrame(refId: string, capacity: number): CircularDataFrame {
  const frame = new CircularDataFrame({ append: 'tail', capacity });
  frame.refId = refId;
  frame.name = 'live';
  frame.addField({ name: 'time', type: FieldType.time });
  frame.addField({ name: 'timestamp_ns', type: FieldType.string });
  frame.addField({ name: 'sequence', type: FieldType.number });
  frame.addField({ name: 'event_type', type: FieldType.string });
  frame.addField({ name: 'pid', type: FieldType.number });
  frame.addField({ name: 'comm', type: FieldType.string });
  frame.addField({ name: 'duration', type: FieldType.number, config: { unit: 'ns' } });
  frame.addField({ name: 'transaction_id', type: FieldType.string });
  return frame;
}

export function appendLive(frame: CircularDataFrame, sequence: number, e: KernelEvent) {
  frame.add({
    time: splitMsNanos(e.timestamp_ns ?? '0').ms,
    timestamp_ns: e.timestamp_ns ?? '0',
    sequence,
    event_type: e.event_type ?? '',
    pid: e.pid ?? 0,
    comm: e.comm ?? '',
    duration: Number(e.duration_ns ?? 0),
    transaction_id: e.financial_context?.transaction_id ?? '',
  });
}

import { readFileSync } from 'fs';
import { join } from 'path';

import { itemsFromTimeline } from '../api/convert';
import { TransactionTimeline } from '../api/gen/kprobe/v1/timeline';
import { traceFrameProblems } from '../testing/frameContracts';
import { itemsFromTracesFrame, tracesFrame } from './traces';

const timeline: TransactionTimeline = JSON.parse(
  readFileSync(join(__dirname, '../../fixtures/pay-api-failed.timeline.json'), 'utf8')
);

describe('timeline as a Traces frame', () => {
  const items = itemsFromTimeline(timeline);
  const frame = tracesFrame(timeline.transaction!.trace_id!, items);

  it('is in the Traces panel format', () => {
    expect(traceFrameProblems(frame)).toEqual([]);
    expect(frame.length).toBe(items.length);
  });

  it('puts kernel events under the spans they ran for', () => {
    const parent = frame.fields.find((f) => f.name === 'parentSpanID')!.values;
    const op = frame.fields.find((f) => f.name === 'operationName')!.values;
    const write = op.indexOf('SyscallWrite');
    expect(parent[write]).toMatch(/^span:/);
  });

  it('carries exact ns beside the float ms Grafana uses', () => {
    const start = frame.fields.find((f) => f.name === 'startTime')!;
    const exact = frame.fields.find((f) => f.name === 'startTimeUnixNano')!.values;
    items.forEach((item, i) => {
      expect(exact[i]).toBe(item.startNs);
      const ms = BigInt(item.startNs) / BigInt(1e6);
      expect(Math.floor(start.values[i])).toBe(Number(ms));
      expect(start.nanos![i]).toBe(Number(BigInt(item.startNs) - ms * BigInt(1e6)));
    });
  });

  it('reads back the same items, exactly', () => {
    const back = itemsFromTracesFrame(frame);
    expect(back.map((i) => [i.id, i.startNs, i.durationNs, i.eventType, i.kind])).toEqual(
      items.map((i) => [i.id, i.startNs, i.durationNs, i.eventType, i.kind])
    );
  });

  it('the contract check catches a broken frame', () => {
    const broken = tracesFrame('t', items);
    broken.fields.find((f) => f.name === 'parentSpanID')!.values[3] = 'span:missing';
    expect(traceFrameProblems(broken)).toEqual(['span 3 has a parent span:missing outside the trace']);
  });
});

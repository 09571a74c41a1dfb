import { readFileSync } from 'fs';
import { join } from 'path';

import { graphFromApi, itemsFromTimeline } from '../api/convert';
import { TransactionTimeline } from '../api/gen/kprobe/v1/timeline';
import { buildTimeline, laneOf, withGraphCauses } from './timeline';
import { minNs, offsetNs } from './ns';

// A real API response: the seeds' incident sent through the processor (fixtures/README.md).
const timeline: TransactionTimeline = JSON.parse(
  readFileSync(join(__dirname, '../../fixtures/pay-api-failed.timeline.json'), 'utf8')
);

describe('timeline model', () => {
  const items = itemsFromTimeline(timeline);
  const model = buildTimeline(items);

  it('has one lane per service for spans and one per thread for kernel events', () => {
    expect(model.lanes).toEqual([
      'payment-handler',
      'payment-handler · payment-handler 4100/4101',
      'settlement-svc',
      'settlement-svc · settlement-svc 4300/4301',
    ]);
    expect(items).toHaveLength(1 + (timeline.spans ?? []).length + (timeline.events ?? []).length);
  });

  it('measures every row in exact ns from the earliest start', () => {
    // The request's TCPRecv comes 0.2 ms before the transaction's span starts.
    expect(model.baseNs).toBe(minNs(items.map((i) => i.startNs)));
    expect(offsetNs(timeline.transaction!.start_ns!, model.baseNs)).toBe(200_000);
    for (const r of model.rows) {
      expect(r.start).toBe(offsetNs(r.item.startNs, model.baseNs));
      expect(r.end - r.start).toBe(r.item.durationNs);
    }
  });

  it('nests the reclaim interval inside the settlement write', () => {
    const write = model.rows.find((r) => r.item.eventType === 'SyscallWrite')!;
    const reclaim = model.rows.find((r) => r.item.eventType === 'MemoryReclaim')!;
    expect(laneOf(reclaim.item)).toBe(laneOf(write.item));
    expect(reclaim.start).toBeGreaterThan(write.start);
    expect(reclaim.end).toBeLessThan(write.end);
    expect(reclaim.depth).toBe(write.depth + 1);
    // containers are drawn first
    expect(model.rows.indexOf(write)).toBeLessThan(model.rows.indexOf(reclaim));
  });
});

describe('timeline with the graph causes', () => {
  it('adds the kernel events the engine linked from other threads, once', () => {
    const graph = graphFromApi(
      JSON.parse(readFileSync(join(__dirname, '../../fixtures/pay-api-failed.graph.json'), 'utf8'))
    );
    const own = itemsFromTimeline(timeline);
    const merged = withGraphCauses(own, graph);
    const ids = merged.map((i) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    const added = merged.slice(own.length);
    // every graph node but the culprit process (no interval) is on the time axis
    expect(new Set(ids)).toEqual(
      new Set([...own.map((i) => i.id), ...graph.nodes.filter((n) => n.kind !== 'process').map((n) => n.id)])
    );
    expect(added.every((i) => !own.some((o) => o.id === i.id))).toBe(true);
  });
});

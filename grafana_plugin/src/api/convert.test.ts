import { readFileSync } from 'fs';
import { join } from 'path';

import { kernelEventsOf } from '../model/graph';
import { graphFromApi, itemsFromTimeline } from './convert';
import { CausalGraph as ApiGraph } from './gen/kprobe/v1/causal_graph';
import { TransactionTimeline } from './gen/kprobe/v1/timeline';

const load = (name: string) => JSON.parse(readFileSync(join(__dirname, '../../fixtures', name), 'utf8'));
const api: ApiGraph = load('pay-api-failed.graph.json');
const timeline: TransactionTimeline = load('pay-api-failed.timeline.json');

describe('API graph → panel model', () => {
  const g = graphFromApi(api);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));

  it('keeps the verdict: failed, 760 ms, memory reclaim by batch-job', () => {
    expect(g.transactionId).toBe('pay-api-failed');
    expect(g.status).toBe('failed');
    expect(g.latencyNs).toBe(760_000_000);
    expect(g.rootCause).toMatchObject({
      mechanism: 'memory-reclaim',
      culprit: { pid: 4400, comm: 'batch-job' },
      contributionNs: 749_300_000,
      nodeId: 'proc:4400',
    });
    expect(g.chain[0]).toBe('txn:pay-api-failed');
    expect(g.chain[g.chain.length - 1]).toBe('proc:4400');
    expect(g.rootNodeId).toBe('txn:pay-api-failed');
  });

  it('keys nodes by event id and span id, the ids the timeline uses too', () => {
    const timelineIds = new Set(itemsFromTimeline(timeline).map((i) => i.id));
    const graphKernel = g.nodes.filter((n) => n.kind === 'kernel' || n.kind === 'span');
    expect(graphKernel.length).toBeGreaterThan(5);
    for (const n of graphKernel) {
      expect(timelineIds.has(n.id)).toBe(true);
    }
  });

  it('keeps ns exact and event fields for the drill-down', () => {
    const reclaim = g.nodes.find((n) => n.eventType === 'MemoryReclaim')!;
    const raw = api.nodes!.find((n) => n.event_type === 'MemoryReclaim')!;
    expect(reclaim.startNs).toBe(raw.start_ns);
    expect(reclaim.durationNs).toBe(Number(raw.duration_ns));
    expect(reclaim.fields.pages_reclaimed).toBe(raw.event!.pages_reclaimed);
    expect(reclaim.fields.reclaim_kind).toBe('MEMCG');
  });

  it('drills down from the ledger write span to its write and the reclaim inside it', () => {
    const span = g.nodes.find((n) => n.kind === 'span' && n.name === 'ledger.write')!;
    const events = kernelEventsOf(g, span.id).map((n) => n.eventType);
    expect(events).toEqual(expect.arrayContaining(['SyscallWrite', 'MemoryReclaim']));
    expect(byId.get('proc:4400')!.kind).toBe('process');
    expect(g.nodes.filter((n) => n.status === 'error').map((n) => n.name)).toEqual(
      expect.arrayContaining(['POST /pay', 'POST settlement'])
    );
  });
});

import { readFileSync } from 'fs';
import { join } from 'path';
import { FieldType } from '@grafana/data';

import { SearchTransactionsResponse } from '../../api/gen/kprobe/v1/search';
import { TransactionTimeline } from '../../api/gen/kprobe/v1/timeline';
import { appendLive, eventsFrame, liveFrame, transactionsFrame } from './frames';

const load = (name: string) => JSON.parse(readFileSync(join(__dirname, '../../../fixtures', name), 'utf8'));

describe('kprobe data source tables', () => {
  it('lists transactions with Grafana time plus the exact start in ns', () => {
    const r: SearchTransactionsResponse = load('transactions.json');
    const f = transactionsFrame('A', r.transactions!);
    const col = (n: string) => f.fields.find((x) => x.name === n)!;
    expect(col('transaction_id').values).toEqual(['pay-api-ok', 'pay-api-failed']);
    expect(col('status').values).toEqual(['ok', 'error']);
    expect(col('time').type).toBe(FieldType.time);
    const exact = r.transactions![1].start_ns!;
    expect(col('start_ns').values[1]).toBe(exact);
    expect(BigInt(col('time').values[1]) * BigInt(1e6) + BigInt(col('time').nanos![1])).toBe(BigInt(exact));
    expect(col('duration').values[1]).toBe(760_000_000);
  });

  it('lists kernel events, and keeps the newest live ones in a bounded frame', () => {
    const t: TransactionTimeline = load('pay-api-failed.timeline.json');
    const events = t.events!;
    const f = eventsFrame('B', events);
    expect(f.length).toBe(events.length);
    expect(f.fields.find((x) => x.name === 'event_type')!.values).toContain('MemoryReclaim');
    const live = liveFrame('C', 5);
    events.forEach((e, i) => appendLive(live, i + 1, e));
    expect(live.length).toBe(5);
    expect([...live.fields.find((x) => x.name === 'sequence')!.values]).toEqual([
      events.length - 4,
      events.length - 3,
      events.length - 2,
      events.length - 1,
      events.length,
    ]);
  });
});

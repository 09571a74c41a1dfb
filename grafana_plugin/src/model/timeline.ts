/**
 * Timeline rows: one lane per service (its spans) and one per thread (its
 * kernel events), every item as [start, end) offsets in ns from one base.
 */

import { CausalGraph, CausalNode, FieldValue } from './graph';
import { minNs, NsString, offsetNs } from './ns';

/** A span or kernel event on the timeline: a graph node without the graph (culprit processes have no interval). */
export type TimelineItem = Omit<CausalNode, 'kind' | 'fields'> & {
  kind: 'transaction' | 'span' | 'kernel';
  fields?: Record<string, FieldValue>;
};

export interface TimelineRow {
  id: string;
  lane: number;
  /** How many earlier rows of the same lane enclose this one (a reclaim inside a write is 1). */
  depth: number;
  start: number;
  end: number;
  item: TimelineItem;
}

export interface TimelineModel {
  baseNs: NsString;
  lanes: string[];
  rows: TimelineRow[];
  /** Offset of the last end: the x-axis extent. */
  extent: number;
}

/** Timeline items of a graph's transaction, spans and kernel events (culprit processes have no interval). */
export function itemsFromGraph(graph: CausalGraph): TimelineItem[] {
  return graph.nodes.filter((n) => n.kind !== 'process').map(itemFromNode);
}

function itemFromNode(n: CausalNode): TimelineItem {
  return { ...n, kind: n.kind as TimelineItem['kind'] };
}

/**
 * A transaction's own events plus the graph's nodes it does not have: the causes the engine
 * linked from other threads and processes (a reclaim on the settlement thread, the culprit's
 * events) belong on the same time axis as the wait they explain.
 */
export function withGraphCauses(items: TimelineItem[], graph: CausalGraph): TimelineItem[] {
  const have = new Set(items.map((i) => i.id));
  return [...items, ...itemsFromGraph(graph).filter((i) => !have.has(i.id))];
}

/** The lane an item belongs to: spans in their service's lane, kernel events in their thread's. */
export function laneOf(item: TimelineItem): string {
  if (item.kind !== 'kernel') {
    return item.service ?? 'transaction';
  }
  const thread = `${item.comm ?? 'pid'} ${item.pid ?? '?'}/${item.tid ?? '?'}`;
  return item.service ? `${item.service} · ${thread}` : thread;
}

export function buildTimeline(items: TimelineItem[], baseNs?: NsString): TimelineModel {
  if (items.length === 0) {
    return { baseNs: baseNs ?? '0', lanes: [], rows: [], extent: 0 };
  }
  const base = baseNs ?? minNs(items.map((i) => i.startNs));
  const laneNames = Array.from(new Set(items.map(laneOf))).sort(compareLanes);
  const laneIndex = new Map(laneNames.map((name, i) => [name, i]));
  let extent = 0;
  const rows: TimelineRow[] = items.map((item) => {
    const start = offsetNs(item.startNs, base);
    const end = start + item.durationNs;
    extent = Math.max(extent, end);
    return { id: item.id, lane: laneIndex.get(laneOf(item))!, depth: 0, start, end, item };
  });
  assignDepths(rows);
  // Containers first, so what they contain is drawn on top; causes over the scheduler's noise.
  rows.sort((a, b) => a.depth - b.depth || paintOrder(a.item) - paintOrder(b.item));
  return { baseNs: base, lanes: laneNames, rows, extent };
}

const BACKGROUND = new Set(['SchedSwitch', 'SchedWakeup', 'PageFault']);
const CAUSES = new Set(['MemoryReclaim', 'TCPRetransmit', 'SyscallFsync']);

function paintOrder(item: TimelineItem): number {
  const t = item.eventType ?? '';
  return BACKGROUND.has(t) ? 0 : CAUSES.has(t) ? 2 : 1;
}

/** Nesting depth of each row within its lane: the number of open intervals enclosing it. */
function assignDepths(rows: TimelineRow[]) {
  const byLane = new Map<number, TimelineRow[]>();
  for (const r of rows) {
    (byLane.get(r.lane) ?? byLane.set(r.lane, []).get(r.lane)!).push(r);
  }
  for (const lane of byLane.values()) {
    lane.sort((a, b) => a.start - b.start || b.end - a.end);
    const open: number[] = [];
    for (const r of lane) {
      while (open.length > 0 && open[open.length - 1] <= r.start) {
        open.pop();
      }
      r.depth = open.length;
      if (r.end > r.start) {
        open.push(r.end);
      }
    }
  }
}

/** The transaction lane, then each service's span lane followed by its threads, then threads of no service. */
function compareLanes(a: string, b: string): number {
  const key = (s: string): [number, string, number, string] => {
    if (s === 'transaction') {
      return [0, '', 0, ''];
    }
    const sep = s.indexOf(' · ');
    if (sep >= 0) {
      return [1, s.slice(0, sep), 1, s.slice(sep + 3)];
    }
    return s.includes('/') ? [2, '', 1, s] : [1, s, 0, ''];
  };
  const x = key(a);
  const y = key(b);
  return (
    x[0] - y[0] || x[1].localeCompare(y[1]) || x[2] - y[2] || x[3].localeCompare(y[3], undefined, { numeric: true })
  );
}

/**
 * How latency contribution and event kinds look, shared by the graph panel,
 * the timeline and the Node Graph frames so one cause has one colour everywhere.
 */

import { interpolateYlOrRd } from 'd3';

/** Contribution below this (1 µs) is drawn as no contribution. */
const FLOOR_NS = 1_000;

/** Position of a contribution on a log scale from 1 µs to the graph's largest, in [0, 1]. */
export function contributionShare(ns: number, maxNs: number): number {
  if (ns < FLOOR_NS) {
    return 0;
  }
  const top = Math.log10(Math.max(maxNs, FLOOR_NS * 10));
  return Math.min(1, (Math.log10(ns) - Math.log10(FLOOR_NS)) / (top - Math.log10(FLOOR_NS)));
}

export function contributionColor(ns: number, maxNs: number): string {
  const share = contributionShare(ns, maxNs);
  return share === 0 ? '#8e8e8e' : toHex(interpolateYlOrRd(0.25 + 0.75 * share));
}

/** Edge width in px: 1 for nothing, up to 7 for the largest contribution. */
export function contributionWidth(ns: number, maxNs: number): number {
  return Math.round((1 + 6 * contributionShare(ns, maxNs)) * 10) / 10;
}

const KIND_COLORS: Record<string, string> = {
  transaction: '#3d71d9',
  span: '#6e9fff',
  process: '#ff7383',
  SyscallRead: '#73bf69',
  SyscallWrite: '#56a64b',
  SyscallFsync: '#37872d',
  TCPSend: '#8ab8ff',
  TCPRecv: '#5794f2',
  TCPRetransmit: '#ff9830',
  SchedSwitch: '#b877d9',
  SchedWakeup: '#ca95e5',
  PageFault: '#fade2a',
  MemoryReclaim: '#f2495c',
};

export function kindColor(kind: string, eventType?: string): string {
  return KIND_COLORS[eventType ?? kind] ?? KIND_COLORS[kind] ?? '#9fa7b3';
}

export const ROOT_CAUSE_COLOR = '#e02f44';
export const CRITICAL_COLOR = '#ff5286';

function toHex(color: string): string {
  const m = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(color);
  if (!m) {
    return color;
  }
  return `#${[m[1], m[2], m[3]].map((v) => Number(v).toString(16).padStart(2, '0')).join('')}`;
}

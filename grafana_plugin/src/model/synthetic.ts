/**
 * A generated payment graph of any size, shaped like the engine's output for
 * a settlement slowed by memory reclaim: for layout/render scale tests and the
 * panel harness, where a real capture of thousands of nodes is not at hand.
 * Deterministic for a given size and seed.
 */

import { CausalEdge, CausalGraph, CausalNode, edgesAlong } from './graph';
import { addNs } from './ns';

const BASE_NS = '1763776800123456789';
const SERVICES = ['gateway', 'risk', 'settlement', 'ledger'];
const KERNEL_TYPES = ['SyscallRead', 'SyscallWrite', 'SchedSwitch', 'PageFault', 'TCPSend', 'TCPRecv', 'SchedWakeup'];

export function syntheticGraph(nodeCount: number, seed = 1): CausalGraph {
  let state = seed >>> 0 || 1;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const nodes: CausalNode[] = [];
  const edges: CausalEdge[] = [];
  const edge = (source: string, target: string, relation: string, contribution: number, observed = true) =>
    edges.push({
      critical: false,
      id: `e${edges.length}`,
      source,
      target,
      relation,
      observed,
      confidence: observed ? undefined : 0.8,
      latencyContributionNs: contribution,
    });

  const txnId = 'pay-98721';
  nodes.push({
    id: 'txn',
    kind: 'transaction',
    name: `payment ${txnId}`,
    service: 'gateway',
    startNs: BASE_NS,
    durationNs: 812_000_000,
    status: 'error',
    fields: { 'kprobe.transaction.id': txnId, amount: '50000 INR' },
  });
  const spanIds: string[] = [];
  SERVICES.forEach((service, i) => {
    const id = `span-${service}`;
    spanIds.push(id);
    nodes.push({
      id,
      kind: 'span',
      name: `${service} ${i === 2 ? 'POST /settle' : 'handle'}`,
      service,
      pid: 1000 + i,
      tid: 1000 + i,
      startNs: addNs(BASE_NS, i * 400_000),
      durationNs: i === 2 ? 805_000_000 : 1_200_000,
      status: i === 2 ? 'error' : 'ok',
      parentId: i === 0 ? 'txn' : `span-${SERVICES[i - 1]}`,
      fields: { 'service.name': service },
    });
    edge(i === 0 ? 'txn' : `span-${SERVICES[i - 1]}`, id, 'parent-child', i === 2 ? 805_000_000 : 400_000);
  });

  const write: CausalNode = {
    id: 'k-settle-write',
    kind: 'kernel',
    name: 'SyscallWrite',
    eventType: 'SyscallWrite',
    service: 'settlement',
    pid: 1002,
    tid: 1002,
    comm: 'settlement',
    startNs: addNs(BASE_NS, 2_000_000),
    durationNs: 800_000_000,
    status: 'ok',
    parentId: 'span-settlement',
    fields: { fd: 7, bytes: 4096, ret: 4096 },
  };
  const reclaim: CausalNode = {
    id: 'k-reclaim',
    kind: 'kernel',
    name: 'MemoryReclaim',
    eventType: 'MemoryReclaim',
    service: 'settlement',
    pid: 1002,
    tid: 1002,
    comm: 'settlement',
    startNs: addNs(BASE_NS, 2_050_000),
    durationNs: 790_000_000,
    status: 'ok',
    fields: { pages_reclaimed: 51234, reclaim_kind: 'MEMCG' },
  };
  const batch: CausalNode = {
    id: 'k-batch',
    kind: 'kernel',
    name: 'PageFault',
    eventType: 'PageFault',
    pid: 4721,
    tid: 4721,
    comm: 'batch-job',
    startNs: addNs(BASE_NS, 1_000_000),
    durationNs: 0,
    status: 'ok',
    fields: { address: '0x7f00deadb000', major: false },
  };
  nodes.push(write, reclaim, batch);
  edge('span-settlement', write.id, 'span-syscall', 800_000_000);
  edge(write.id, reclaim.id, 'reclaim', 790_000_000);
  edge(reclaim.id, batch.id, 'memory-pressure', 700_000_000, false);

  let prevBySpan = new Map<string, string>();
  for (let i = nodes.length; i < nodeCount; i++) {
    const s = Math.floor(rand() * SERVICES.length);
    const type = KERNEL_TYPES[Math.floor(rand() * KERNEL_TYPES.length)];
    const onBatch = rand() < 0.25;
    const id = `k${i}`;
    const duration = type === 'PageFault' || type === 'SchedWakeup' ? 0 : Math.floor(rand() * 50_000);
    nodes.push({
      id,
      kind: 'kernel',
      name: type,
      eventType: type,
      service: onBatch ? undefined : SERVICES[s],
      pid: onBatch ? 4721 : 1000 + s,
      tid: onBatch ? 4721 : 1000 + s,
      comm: onBatch ? 'batch-job' : SERVICES[s],
      startNs: addNs(BASE_NS, Math.floor(rand() * 810_000_000)),
      durationNs: duration,
      status: rand() < 0.01 ? 'error' : 'ok',
      parentId: onBatch ? undefined : spanIds[s],
      fields: { cpu: Math.floor(rand() * 2) },
    });
    const anchor = onBatch ? batch.id : (prevBySpan.get(spanIds[s]) ?? spanIds[s]);
    edge(anchor, id, onBatch ? 'cpu-share' : 'program-order', Math.floor(rand() * duration), !onBatch);
    if (!onBatch) {
      prevBySpan.set(spanIds[s], rand() < 0.9 ? anchor : id);
    }
  }
  const criticalPath = ['txn', 'span-gateway', 'span-risk', 'span-settlement', write.id, reclaim.id, batch.id];
  const graphSoFar = { nodes, edges, criticalPath } as unknown as CausalGraph;
  const onPath = edgesAlong(graphSoFar, criticalPath);
  edges.forEach((e) => (e.critical = onPath.has(e.id)));
  return {
    transactionId: txnId,
    status: 'failed',
    latencyNs: 812_000_000,
    rootNodeId: 'txn',
    rootCause: {
      mechanism: 'memory-reclaim',
      culprit: { pid: 4721, comm: 'batch-job' },
      contributionNs: 790_000_000,
      evidence: ['memcg reclaim of 51234 pages inside the settlement write'],
      summary: 'The settlement write waited 790 ms in memory reclaim driven by batch-job (pid 4721).',
      nodeId: batch.id,
    },
    chain: criticalPath,
    criticalPath,
    nodes,
    edges,
  };
}

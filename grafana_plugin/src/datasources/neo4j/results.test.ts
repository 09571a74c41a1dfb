import { nodeGraphProblems } from '../../testing/frameContracts';
import { parseParameters } from './datasource';
import { Neo4jQueryError, graphFromResult, nodeGraphFrames, tableFrame } from './results';
import { QueryApiResponse } from './types';

// Neo4j's HTTP Query API answers in this shape (plain JSON, 5.19+); no Neo4j server runs here.
const node = (elementId: string, labels: string[], properties: Record<string, unknown>) => ({
  elementId,
  labels,
  properties,
});
const rel = (elementId: string, start: string, end: string, type: string, properties: Record<string, unknown>) => ({
  elementId,
  startNodeElementId: start,
  endNodeElementId: end,
  type,
  properties,
});
const txn = node('4:t', ['CausalNode', 'Transaction'], {
  id: 'txn:pay-1',
  txn: 'pay-1',
  status: 'ERROR',
  duration_ns: 760000000,
  start_ns: 1795314503343515,
  root_pid: 4400,
  root_comm: 'batch-job',
  root_service: 'batch-job',
  chain: ['txn:pay-1', 'ev:7', 'proc:4400'],
});
const write = node('4:w', ['CausalNode', 'KernelEvent'], {
  id: 'ev:7',
  txn: 'pay-1',
  event_type: 'SyscallWrite',
  pid: 4300,
  tid: 4301,
  comm: 'settlement-svc',
  start_ns: 1795314503345515,
  duration_ns: 799500000,
  on_critical_path: true,
});
const proc = node('4:p', ['CausalNode', 'Process'], {
  id: 'proc:4400',
  pid: 4400,
  comm: 'batch-job',
  on_critical_path: true,
});
const graphResult: QueryApiResponse = {
  data: {
    fields: ['p'],
    values: [
      [
        [
          proc,
          rel('5:1', '4:p', '4:w', 'MEMORY_PRESSURE', {
            txn: 'pay-1',
            inferred: true,
            confidence: 1,
            latency_contribution_ns: 749300000,
            on_critical_path: true,
          }),
          write,
          rel('5:2', '4:w', '4:t', 'PROGRAM_ORDER', {
            txn: 'pay-1',
            inferred: false,
            latency_contribution_ns: 749300000,
            on_critical_path: true,
          }),
          txn,
        ],
      ],
      [rel('5:3', '4:p', '4:t', 'ROOT_CAUSE_OF', { mechanism: 'memory-reclaim', contribution_ns: 749300000 })],
    ],
  },
};

describe('Neo4j Query API results', () => {
  it('become a table, one column per returned field', () => {
    const f = tableFrame('A', {
      data: {
        fields: ['transaction_id', 'contribution_ns', 'chain'],
        values: [
          ['pay-1', 749300000, ['a', 'b']],
          ['pay-2', null, []],
        ],
      },
    });
    expect(f.fields.map((x) => [x.name, x.type])).toEqual([
      ['transaction_id', 'string'],
      ['contribution_ns', 'number'],
      ['chain', 'string'],
    ]);
    expect(f.fields[2].values).toEqual(['["a","b"]', '[]']);
    expect(f.fields[1].values).toEqual([749300000, null]);
  });

  it('become the causal graph model from paths, nodes and relationships', () => {
    const g = graphFromResult(graphResult);
    expect(g.nodes.map((n) => [n.id, n.kind])).toEqual([
      ['proc:4400', 'process'],
      ['ev:7', 'kernel'],
      ['txn:pay-1', 'transaction'],
    ]);
    expect(g.edges.map((e) => [e.source, e.target, e.relation, e.observed, e.critical])).toEqual([
      ['proc:4400', 'ev:7', 'memory-pressure', false, true],
      ['ev:7', 'txn:pay-1', 'program-order', true, true],
    ]);
    expect(g.rootCause).toMatchObject({
      mechanism: 'memory-reclaim',
      nodeId: 'proc:4400',
      culprit: { pid: 4400, comm: 'batch-job' },
    });
    expect(g.transactionId).toBe('pay-1');
    expect(g.chain).toEqual(['txn:pay-1', 'ev:7', 'proc:4400']);
  });

  it('become valid Node Graph frames', () => {
    const [nodes, edges] = nodeGraphFrames('A', graphResult);
    expect(nodeGraphProblems(nodes, edges)).toEqual([]);
  });

  it('report Neo4j errors and bad parameters in one line', () => {
    expect(() =>
      tableFrame('A', { errors: [{ code: 'Neo.ClientError.Statement.SyntaxError', message: 'Invalid input' }] })
    ).toThrow(new Neo4jQueryError('Neo.ClientError.Statement.SyntaxError: Invalid input'));
    expect(() => parseParameters('{"txn": }')).toThrow(/parameters are not JSON/);
    expect(() => parseParameters('[1]')).toThrow('parameters must be a JSON object');
  });
});

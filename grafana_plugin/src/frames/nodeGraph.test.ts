import { readFileSync } from 'fs';
import { join } from 'path';

import { graphFromApi } from '../api/convert';
import { CausalGraph as ApiGraph } from '../api/gen/kprobe/v1/causal_graph';
import { syntheticGraph } from '../model/synthetic';
import { nodeGraphProblems } from '../testing/frameContracts';
import { EDGES_FRAME, NODES_FRAME, framesToGraph, graphToFrames } from './nodeGraph';

const api: ApiGraph = JSON.parse(readFileSync(join(__dirname, '../../fixtures/pay-api-failed.graph.json'), 'utf8'));

describe('causal graph as Node Graph frames', () => {
  const graph = graphFromApi(api);
  const [nodes, edges] = graphToFrames(graph, 'A');

  it('is in the Node Graph panel format', () => {
    expect(nodes.name).toBe(NODES_FRAME);
    expect(edges.name).toBe(EDGES_FRAME);
    expect(nodeGraphProblems(nodes, edges)).toEqual([]);
    expect(nodes.length).toBe(api.nodes!.length);
    expect(edges.length).toBe(api.edges!.length);
  });

  it('marks the critical path and the root cause', () => {
    const ids = nodes.fields.find((f) => f.name === 'id')!.values;
    const critical = nodes.fields.find((f) => f.name === 'arc__critical')!.values;
    const onPath = new Set(api.nodes!.filter((n) => n.on_critical_path).map((n) => n.id));
    expect(ids.filter((_, i) => critical[i] === 1).sort()).toEqual([...onPath].sort());
    const highlighted = nodes.fields.find((f) => f.name === 'highlighted')!.values;
    expect(ids.filter((_, i) => highlighted[i])).toEqual(['proc:4400']);
    const edgeHighlighted = edges.fields.find((f) => f.name === 'highlighted')!.values;
    expect(edgeHighlighted.filter(Boolean)).toHaveLength(api.edges!.filter((e) => e.on_critical_path).length);
  });

  it('reads back to the same graph', () => {
    const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
    expect(plain(framesToGraph([nodes, edges]))).toEqual(plain(graph));
  });

  it('keeps 3000 nodes valid', () => {
    const [n, e] = graphToFrames(syntheticGraph(3000));
    expect(n.length).toBe(3000);
    expect(nodeGraphProblems(n, e)).toEqual([]);
  });

  it('the contract check catches a broken frame', () => {
    const [n, e] = graphToFrames(syntheticGraph(10));
    e.fields.find((f) => f.name === 'target')!.values[0] = 'nowhere';
    n.fields.find((f) => f.name === 'arc__rest')!.values[0] = 0.5;
    expect(nodeGraphProblems(n, e)).toEqual([
      'arc__ values of node txn sum to 1.5, not 1',
      'edge 0 joins unknown nodes txn → nowhere',
    ]);
  });
});

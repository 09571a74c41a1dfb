/**
 * Layered layout of a causal graph: the transaction at the top, its spans
 * below by depth, then the kernel events they ran, then what caused those
 * (reclaim, other processes) further down. Linear in nodes + edges, so a graph
 * of a few thousand nodes lays out in milliseconds; wide layers wrap into
 * several rows instead of growing without bound.
 */

import { CausalGraph, NodeKind } from './graph';

const isApp = (kind?: NodeKind) => kind === 'transaction' || kind === 'span';

export interface LayoutOptions {
  nodeGap: number;
  rowGap: number;
  layerGap: number;
  maxPerRow: number;
  /** Deeper causes are folded into the last layer. */
  maxLayers: number;
  /** Layers of at most `sparseMax` nodes (the spans, usually) get `sparseGap`: room for labels. */
  sparseMax: number;
  sparseGap: number;
}

export interface Point {
  x: number;
  y: number;
  layer: number;
}

export interface Layout {
  positions: Map<string, Point>;
  layerCount: number;
  bounds: { x0: number; y0: number; x1: number; y1: number };
}

const DEFAULTS: LayoutOptions = {
  nodeGap: 30,
  rowGap: 34,
  layerGap: 90,
  maxPerRow: 40,
  maxLayers: 16,
  sparseMax: 4,
  sparseGap: 240,
};

export function layeredLayout(graph: CausalGraph, options: Partial<LayoutOptions> = {}): Layout {
  const opts = { ...DEFAULTS, ...options };
  const layer = assignLayers(graph, opts.maxLayers);
  const neighbours = undirected(graph);
  const layers: string[][] = [];
  for (const n of graph.nodes) {
    const l = layer.get(n.id)!;
    (layers[l] ??= []).push(n.id);
  }

  // Order each layer by the mean position of its neighbours above (barycenter).
  const order = new Map<string, number>();
  layers.forEach((ids, l) => {
    if (l === 0) {
      ids.forEach((id, i) => order.set(id, i));
      return;
    }
    const key = new Map<string, number>();
    for (const id of ids) {
      let sum = 0;
      let count = 0;
      for (const m of neighbours.get(id) ?? []) {
        if ((layer.get(m) ?? Infinity) < l && order.has(m)) {
          sum += order.get(m)! / Math.max(1, layers[layer.get(m)!]?.length ?? 1);
          count++;
        }
      }
      key.set(id, count > 0 ? sum / count : 2);
    }
    ids.sort((a, b) => key.get(a)! - key.get(b)! || a.localeCompare(b));
    ids.forEach((id, i) => order.set(id, i));
  });

  const positions = new Map<string, Point>();
  let y = 0;
  let x0 = 0;
  let x1 = 0;
  layers.forEach((ids, l) => {
    if (!ids || ids.length === 0) {
      return;
    }
    const rows = Math.ceil(ids.length / opts.maxPerRow);
    const perRow = Math.ceil(ids.length / rows);
    const gap = ids.length <= opts.sparseMax ? Math.max(opts.nodeGap, opts.sparseGap) : opts.nodeGap;
    ids.forEach((id, i) => {
      const row = Math.floor(i / perRow);
      const inRow = Math.min(perRow, ids.length - row * perRow);
      const col = i - row * perRow;
      // Stagger alternate rows so edges into a wrapped layer stay distinguishable.
      const stagger = row % 2 === 1 ? gap / 2 : 0;
      const x = (col - (inRow - 1) / 2) * gap + stagger;
      positions.set(id, { x, y: y + row * opts.rowGap, layer: l });
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
    });
    y += (rows - 1) * opts.rowGap + opts.layerGap;
  });
  return {
    positions,
    layerCount: layers.filter((ids) => ids && ids.length > 0).length,
    bounds: { x0, y0: 0, x1, y1: Math.max(0, y - opts.layerGap) },
  };
}

/**
 * Layer of each node: 0 for the transaction; spans by distance from it through
 * spans only; kernel events one below the deepest span plus their distance
 * from any span (so a syscall of a span sits right under the spans and the
 * reclaim that slowed it one further down).
 */
export function assignLayers(graph: CausalGraph, maxLayers = DEFAULTS.maxLayers): Map<string, number> {
  const kind = new Map(graph.nodes.map((n) => [n.id, n.kind]));
  const neighbours = undirected(graph);
  const layer = new Map<string, number>();

  const spanDist = bfs(
    [graph.rootNodeId].filter((id) => kind.has(id)),
    neighbours,
    (id) => isApp(kind.get(id))
  );
  let deepestSpan = 0;
  for (const [id, d] of spanDist) {
    layer.set(id, Math.min(d, maxLayers - 2));
    deepestSpan = Math.max(deepestSpan, layer.get(id)!);
  }
  // Spans not reachable from the transaction sit one below it.
  for (const n of graph.nodes) {
    if (isApp(n.kind) && !layer.has(n.id)) {
      layer.set(n.id, Math.min(1, maxLayers - 2));
      deepestSpan = Math.max(deepestSpan, layer.get(n.id)!);
    }
  }

  const sources = graph.nodes.filter((n) => isApp(n.kind)).map((n) => n.id);
  const kernelDist = bfs(sources, neighbours, () => true);
  let deepest = deepestSpan;
  for (const n of graph.nodes) {
    if (!isApp(n.kind) && kernelDist.has(n.id)) {
      const l = Math.min(deepestSpan + kernelDist.get(n.id)!, maxLayers - 1);
      layer.set(n.id, l);
      deepest = Math.max(deepest, l);
    }
  }
  for (const n of graph.nodes) {
    if (!layer.has(n.id)) {
      layer.set(n.id, Math.min(deepest + 1, maxLayers - 1));
    }
  }
  return layer;
}

function undirected(graph: CausalGraph): Map<string, string[]> {
  const adj = new Map<string, string[]>();
  const link = (a: string, b: string) => {
    (adj.get(a) ?? adj.set(a, []).get(a)!).push(b);
  };
  for (const e of graph.edges) {
    link(e.source, e.target);
    link(e.target, e.source);
  }
  for (const n of graph.nodes) {
    if (n.parentId !== undefined) {
      link(n.id, n.parentId);
      link(n.parentId, n.id);
    }
  }
  return adj;
}

function bfs(sources: string[], adj: Map<string, string[]>, allowed: (id: string) => boolean): Map<string, number> {
  const dist = new Map<string, number>();
  const queue: string[] = [];
  for (const s of sources) {
    dist.set(s, 0);
    queue.push(s);
  }
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head];
    for (const m of adj.get(id) ?? []) {
      if (!dist.has(m) && allowed(m)) {
        dist.set(m, dist.get(id)! + 1);
        queue.push(m);
      }
    }
  }
  return dist;
}

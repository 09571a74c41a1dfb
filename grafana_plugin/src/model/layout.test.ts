import { layeredLayout } from './layout';
import { syntheticGraph } from './synthetic';

describe('layered layout', () => {
  it('puts the transaction on top, spans below it, kernel causes at the bottom', () => {
    const g = syntheticGraph(40);
    const { positions } = layeredLayout(g);
    const layer = (id: string) => positions.get(id)!.layer;
    expect(layer('txn')).toBe(0);
    expect(layer('span-gateway')).toBe(1);
    expect(layer('span-settlement')).toBe(3);
    const deepestSpan = Math.max(...g.nodes.filter((n) => n.kind === 'span').map((n) => layer(n.id)));
    for (const n of g.nodes.filter((n) => n.kind === 'kernel')) {
      expect(layer(n.id)).toBeGreaterThan(deepestSpan);
    }
    // write (under the span) → reclaim → the batch job's fault
    expect(layer('k-reclaim')).toBe(layer('k-settle-write') + 1);
    expect(layer('k-batch')).toBe(layer('k-reclaim') + 1);
  });

  it('places every node of a 3000-node graph at its own point, wrapping wide layers', () => {
    const g = syntheticGraph(3000);
    const layout = layeredLayout(g);
    expect(layout.positions.size).toBe(3000);
    const seen = new Set<string>();
    let widest = 0;
    for (const p of layout.positions.values()) {
      const key = `${p.x},${p.y}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      widest = Math.max(widest, Math.abs(p.x));
    }
    // 40 per row at 30 px: no row wider than ~1200 px however many nodes a layer has.
    expect(widest).toBeLessThanOrEqual(20 * 30 + 15);
    expect(layout.layerCount).toBeLessThanOrEqual(16);
  });
});

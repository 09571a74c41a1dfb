// How the causal graph panel scales: page load to every node drawn, and the time a wheel zoom
// takes to show, for generated graphs of growing size, in Debian's chromium (headless, no GPU).
// The 300-node graph is the baseline of the same run; results are ratios against it.
//   node bench/grafana_plugin/bench_graph_render.mjs http://127.0.0.1:PORT/   (serving console/dist)
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('../../grafana_plugin/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const base = process.argv[2];
const SIZES = [300, 1000, 3000];
const REPEATS = 3;
const profile = mkdtempSync(join(tmpdir(), 'kprobe-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: { width: 1600, height: 1000 },
});
const page = await context.newPage();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const n of SIZES) {
  const draw = [];
  const zoom = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = Date.now();
    await page.goto(`${base}harness.html?panels=graph&synthetic=${n}&width=1500&height=900`);
    await page.waitForFunction((want) => document.querySelectorAll('circle[data-node-id]').length === want, n, { timeout: 120_000 });
    draw.push(Date.now() - t0);
    // one wheel zoom: from the event to the next painted frame
    zoom.push(
      await page.evaluate(async () => {
        const svg = document.querySelector('[data-testid="kprobe-causal-graph"] svg');
        const r = svg.getBoundingClientRect();
        const t = performance.now();
        svg.dispatchEvent(new WheelEvent('wheel', { deltaY: -300, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2, bubbles: true, cancelable: true }));
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        return performance.now() - t;
      })
    );
  }
  rows.push({ n, drawMs: median(draw), zoomMs: median(zoom) });
}
await context.close();
rmSync(profile, { recursive: true, force: true });
const [b] = rows;
console.log('| nodes | page load → all drawn (ms, median of 3) | × 300-node | wheel zoom → painted (ms) | × 300-node |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.n} | ${r.drawMs} | ${(r.drawMs / b.drawMs).toFixed(2)} | ${r.zoomMs.toFixed(1)} | ${(r.zoomMs / b.zoomMs).toFixed(2)} |`);
}

// The nested panel plugins mounted as Grafana mounts them (PanelProps from @grafana/data, one
// event bus), on the console's harness page: a generated 3000-node graph stays usable, and the
// graph, timeline and replay panels render a real transaction from the API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { env, launch, shot } from './lib.mjs';

const BASE = env('KPROBE_URL');
const TXN = env('KPROBE_TXN');

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test('a 3000-node causal graph renders, pans, zooms and drills down', async () => {
  const page = await browser.newPage();
  const t0 = Date.now();
  await page.goto(`${BASE}/console/harness.html?panels=graph&synthetic=3000&width=1500&height=900`);
  const nodes = page.locator('[data-testid="harness-panel-graph"] circle[data-node-id]');
  await page.waitForFunction(() => document.querySelectorAll('circle[data-node-id]').length === 3000, null, {
    timeout: 60_000,
  });
  const renderMs = Date.now() - t0;
  console.log(`3000-node graph: page load to drawn in ${renderMs} ms`);
  assert.equal(await nodes.count(), 3000);
  const viewport = page.locator('.kprobe-graph-viewport');
  const before = await viewport.getAttribute('transform');
  const svg = page.locator('[data-testid="kprobe-causal-graph"] svg');
  const box = await svg.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const t1 = Date.now();
  for (let i = 0; i < 5; i++) {
    await page.mouse.wheel(0, -300);
  }
  await page.waitForFunction(
    (b) => document.querySelector('.kprobe-graph-viewport').getAttribute('transform') !== b,
    before
  );
  console.log(`5 wheel zooms applied in ${Date.now() - t1} ms`);
  await shot(page, 'harness-graph-3000-zoomed');
  // the root cause of the generated graph, clicked, opens its details
  await page.locator('circle[data-root-cause="true"]').dispatchEvent('click');
  await page.getByTestId('kprobe-node-details').waitFor();
  assert.equal(await page.getByTestId('kprobe-node-details').getAttribute('data-node-id'), 'k-batch');
});

test('the panels render a real transaction through PanelProps and stay linked', async () => {
  const page = await browser.newPage();
  await page.goto(
    `${BASE}/console/harness.html?panels=graph,timeline,replay&txn=${encodeURIComponent(TXN)}&width=1500&height=620`
  );
  await page.getByTestId('kprobe-causal-graph').waitFor({ timeout: 60_000 });
  await page.getByTestId('kprobe-timeline').waitFor();
  await page.getByTestId('kprobe-replay').waitFor();
  // the frames came from the kprobe data source's own queries, in Node Graph and Traces format
  assert.deepEqual(await page.evaluate(() => window.kprobeHarness.problems), []);
  // the replay panel takes its transaction from the query result
  assert.equal(await page.getByRole('textbox', { name: 'Transaction id' }).inputValue(), TXN);
  const timelineIds = await page
    .locator('[data-testid="kprobe-timeline-rows"] tr')
    .evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  const ids = await page.locator('circle[data-kind="kernel"]').evaluateAll((cs) => cs.map((c) => c.dataset.nodeId));
  const shared = ids.find((id) => timelineIds.includes(id));
  assert.ok(shared);
  await page.locator(`circle[data-node-id="${shared}"]`).click({ force: true });
  await page.waitForFunction(
    (want) => document.querySelector('[data-testid="kprobe-timeline"]').dataset.selectedId === want,
    shared
  );
  await page.waitForTimeout(400);
  await page.setViewportSize({ width: 1600, height: 2000 });
  await shot(page, 'harness-panels');
});

test('no console errors, page errors or failed requests', () => {
  assert.deepEqual(browser.problems, []);
});

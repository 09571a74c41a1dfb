// The local console against `kprobe serve` holding a real testbed capture (memory pressure):
// search → the failed payment → graph with the injected root cause, timeline with the kernel
// interval inside the settlement write, graph and timeline linked, no console errors.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ARTIFACTS, env, launch, shot } from './lib.mjs';

const BASE = env('KPROBE_URL');
const TXN = env('KPROBE_TXN');
const MECHANISM = env('KPROBE_MECHANISM');
const CULPRIT_PID = env('KPROBE_CULPRIT_PID');

let browser;
let page;

before(async () => {
  browser = await launch();
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
});

test('the search lists the failed payment and opens it', async () => {
  await page.goto(`${BASE}/console/index.html`);
  const row = page.locator(`[data-testid="kprobe-search-results"] tr[data-transaction-id="${TXN}"]`);
  await row.waitFor({ timeout: 30_000 });
  assert.match(await row.textContent(), /error/);
  await row.getByRole('button', { name: TXN }).click();
  await page.waitForURL(`**/console/index.html#/txn/${TXN}`);
  await page.getByTestId('kprobe-workspace').waitFor({ timeout: 60_000 });
});

test('the graph shows the failed payment with the injected root cause highlighted', async () => {
  const graph = page.getByTestId('kprobe-causal-graph');
  await graph.waitFor();
  assert.equal(await page.getByTestId('kprobe-txn-status').textContent(), 'failed');
  const cause = page.getByTestId('kprobe-root-cause');
  assert.equal(await cause.getAttribute('data-mechanism'), MECHANISM);
  assert.match(await cause.textContent(), new RegExp(`pid ${CULPRIT_PID}`));
  // the culprit's node is the one marked as root cause, ringed, on the critical path
  const root = graph.locator('circle[data-root-cause="true"]');
  assert.equal(await root.count(), 1);
  assert.equal(await root.getAttribute('data-node-id'), `proc:${CULPRIT_PID}`);
  assert.equal(await root.getAttribute('data-critical'), 'true');
  assert.equal(await graph.locator('.kprobe-root-cause-ring').count(), 1);
  assert.ok((await graph.locator('path[data-critical="true"]').count()) >= 3);
  await shot(page, 'console-graph');
});

test('the timeline shows the reclaim interval on settlement while the payment waited', async () => {
  const rows = page.locator('[data-testid="kprobe-timeline-rows"] tr');
  await rows.first().waitFor({ state: 'attached' });
  const all = await rows.evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.dataset.id,
      lane: tr.dataset.lane,
      kind: tr.dataset.kind,
      name: tr.dataset.name,
      start: Number(tr.dataset.startNs),
      end: Number(tr.dataset.endNs),
    }))
  );
  const ms = (x) => `${x.kind} ${x.name} ${x.lane} [${(x.start / 1e6).toFixed(3)}, ${(x.end / 1e6).toFixed(3)}) ms`;
  const len = (x) => x.end - x.start;
  // the reclaim the engine names, on a settlement thread's lane
  const reclaims = all
    .filter((r) => r.kind === 'MemoryReclaim' && r.lane.startsWith('settlement'))
    .sort((a, b) => len(b) - len(a));
  assert.ok(reclaims.length > 0, 'no MemoryReclaim on a settlement lane');
  const r = reclaims[0];
  assert.ok(len(r) > 100e6, `longest settlement reclaim: ${ms(r)}`);
  // the handler's wait for settlement: its longest span after the server span itself
  const handler = all.filter((x) => x.kind === 'span' && x.lane === 'payment-handler').sort((a, b) => len(b) - len(a));
  const wait = handler[1];
  const overlap = Math.min(r.end, wait.end) - Math.max(r.start, wait.start);
  assert.ok(overlap > 0.5 * len(wait), `reclaim ${ms(r)} vs the handler's wait ${ms(wait)}`);
  // and, when the capture holds it, the settlement write (syscall or ledger span) the reclaim sits in
  const writes = all.filter(
    (x) =>
      x.lane.startsWith('settlement') &&
      (((x.kind === 'SyscallWrite' || x.kind === 'SyscallFsync') && x.lane === r.lane) ||
        (x.kind === 'span' && /write/.test(x.name))) &&
      x.start <= r.start &&
      r.end <= x.end
  );
  console.log(
    `reclaim ${ms(r)}; inside: ${writes.map(ms).join('; ') || 'no captured write (it precedes the write syscall)'}`
  );
  const w = writes[0] ?? r;
  // selecting the write (from the timeline's event list, as a keyboard user would) zooms to it
  const target = w.id;
  assert.ok(target);
  await page.locator(`[data-testid="kprobe-timeline-rows"] tr[data-id="${target}"] button`).dispatchEvent('click');
  const timeline = page.getByTestId('kprobe-timeline');
  await page.waitForFunction(
    (want) => document.querySelector('[data-testid="kprobe-timeline"]').dataset.selectedId === want,
    target
  );
  await page.waitForTimeout(500);
  await timeline.screenshot({ path: `${ARTIFACTS}/console-timeline-write-reclaim.png` });
  await shot(page, 'console-workspace-selected');
});

test('hovering a node in the graph highlights it in the timeline', async () => {
  const graph = page.getByTestId('kprobe-causal-graph');
  const ids = await page
    .locator('[data-testid="kprobe-timeline-rows"] tr')
    .evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  const candidates = await graph
    .locator('circle[data-kind="kernel"]')
    .evaluateAll((cs) => cs.map((c) => c.dataset.nodeId));
  const id = candidates.find((c) => ids.includes(c));
  assert.ok(id, 'a kernel node present in both panels');
  await graph.locator(`circle[data-node-id="${id}"]`).hover({ force: true });
  await page.waitForFunction(
    (want) => document.querySelector('[data-testid="kprobe-timeline"]').dataset.hoveredId === want,
    id
  );
  assert.equal(await graph.locator(`circle[data-node-id="${id}"]`).getAttribute('data-hovered'), 'true');
});

test('clicking a span drills down to its kernel events and their fields', async () => {
  const graph = page.getByTestId('kprobe-causal-graph');
  const span = graph.locator('circle[data-kind="span"][data-critical="true"]').last();
  await span.click({ force: true });
  const details = page.getByTestId('kprobe-node-details');
  await details.waitFor();
  const events = details.locator('[data-testid="kprobe-node-kernel-events"] button');
  if ((await events.count()) > 0) {
    await events.first().click();
    await page.waitForFunction(() => document.querySelector('[data-testid="kprobe-node-details"] td'));
  }
  assert.match(await details.textContent(), /start \(Unix ns\)\d{19}/);
  await shot(page, 'console-drilldown');
});

test('no console errors, page errors or failed requests', () => {
  assert.deepEqual(browser.problems, []);
});

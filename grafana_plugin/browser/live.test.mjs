// The kprobe data source's live query through the API's /stream WebSocket, in the browser:
// events arrive as the processor stores them, only the types asked for, numbered without gaps.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { env, launch } from './lib.mjs';

const BASE = env('KPROBE_URL');
const TYPES = ['TCPSend', 'SchedSwitch'];

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test('live events stream into the data source frame, filtered and in sequence', async () => {
  const page = await browser.newPage();
  await page.goto(`${BASE}/console/harness.html?live=${TYPES.join(',')}`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="harness-live"] tr').length >= 6, null, {
    timeout: 90_000,
  });
  const rows = await page
    .locator('[data-testid="harness-live"] tr')
    .evaluateAll((trs) => trs.map((tr) => ({ sequence: Number(tr.dataset.sequence), type: tr.dataset.type })));
  assert.deepEqual(
    rows.map((r) => r.sequence),
    rows.map((_, i) => i + 1)
  );
  assert.ok(
    rows.every((r) => TYPES.includes(r.type)),
    JSON.stringify(rows)
  );
  assert.equal(await page.getByTestId('harness-live-error').count(), 0);
});

test('no console errors, page errors or failed requests', () => {
  assert.deepEqual(browser.problems, []);
});

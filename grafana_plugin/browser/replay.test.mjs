// Replay launched from the console's replay panel against a real ptrace recording of a failing
// payment (settlement's fsync took 800 ms, the handler's deadline is 750 ms): replayed as
// recorded it fails again; replayed with the timeout raised to 1500 ms it succeeds, and the panel
// shows that beside the original, with where the run left the recording.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { env, launch, shot } from './lib.mjs';

const BASE = env('KPROBE_URL');
const TXN = env('KPROBE_TXN');
const RECORDING = env('KPROBE_RECORDING');
const TIMEOUT_ENV = env('KPROBE_TIMEOUT_ENV');

let browser;
let page;

before(async () => {
  browser = await launch();
  page = await browser.newPage();
  await page.goto(`${BASE}/console/index.html?timeoutEnv=${TIMEOUT_ENV}#/txn/${encodeURIComponent(TXN)}`);
  await page.getByTestId('kprobe-replay').waitFor({ timeout: 60_000 });
});

after(async () => {
  await browser?.close();
});

async function replayWithTimeout(ms) {
  const panel = page.getByTestId('kprobe-replay');
  await panel.getByRole('radio', { name: 'Recording' }).check({ force: true });
  await panel.getByRole('textbox', { name: 'Recording' }).fill(RECORDING);
  assert.equal(await panel.getByRole('textbox', { name: 'Injection 1 variable' }).inputValue(), TIMEOUT_ENV);
  await panel.getByRole('textbox', { name: 'Injection 1 milliseconds' }).fill(String(ms));
  await page.getByTestId('kprobe-replay-launch').click();
  // progress is followed while it runs, then the outcome replaces nothing but the spinner
  await page.getByTestId('kprobe-replay-status').waitFor({ timeout: 30_000 });
  const outcome = page.getByTestId('kprobe-replay-outcome');
  await outcome.waitFor({ timeout: 180_000 });
  return {
    original: await page.getByTestId('kprobe-replay-original').getAttribute('data-verdict'),
    replay: await page.getByTestId('kprobe-replay-result').getAttribute('data-verdict'),
    changed: await outcome.getAttribute('data-changed'),
    text: await outcome.textContent(),
  };
}

test('replayed with the recorded 750 ms timeout the payment fails again', async () => {
  const r = await replayWithTimeout(750);
  assert.deepEqual([r.original, r.replay, r.changed], ['failed', 'failed', 'false']);
  assert.match(r.text, /Same outcome: failed/);
  await shot(page, 'console-replay-as-recorded');
});

test('raising the timeout to 1500 ms changes the outcome: failed → succeeded', async () => {
  const r = await replayWithTimeout(1500);
  assert.deepEqual([r.original, r.replay, r.changed], ['failed', 'succeeded', 'true']);
  assert.match(r.text, /Outcome changed: failed → succeeded/);
  assert.match(await page.getByTestId('kprobe-replay-divergence').textContent(), /timeout.*750.*1500/);
  await shot(page, 'console-replay-timeout-raised');
});

test('no console errors, page errors or failed requests', () => {
  assert.deepEqual(browser.problems, []);
});

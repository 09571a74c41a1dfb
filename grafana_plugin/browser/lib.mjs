// Shared by the browser tests: Debian's chromium through playwright-core, a fresh profile,
// and every console error, page error and failed request of a page collected for the checks.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) {
    throw new Error(`${name} is not set (the pytest side sets it: tests/grafana_plugin/)`);
  }
  return v;
};

export const ARTIFACTS = env('KPROBE_ARTIFACTS', join(process.cwd(), '..', 'artifacts', 'grafana_plugin'));
mkdirSync(ARTIFACTS, { recursive: true });

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'kprobe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: env('CHROMIUM', '/usr/bin/chromium'),
    args: FLAGS,
    viewport: { width: 1600, height: 1000 },
  });
  const problems = [];
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') {
        problems.push(`console error on ${page.url()}: ${m.text()}`);
      }
    });
    page.on('pageerror', (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) {
        problems.push(`${r.status()} for ${r.request().method()} ${r.url()}`);
      }
    });
    return page;
  };
  return {
    context,
    problems,
    newPage: async () => watch(await context.newPage()),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

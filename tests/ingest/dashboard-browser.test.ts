// The ops dashboard in a real browser: Debian's chromium, driven by playwright-core (no browser download),
// against a worker on a real PostgreSQL 16 behind PgBouncer while uploads run. Signs in (the token stays out
// of the URL), watches a throttled upload's bar advance and complete, a bad upload show its error kind, and
// PgBouncer's numbers equal SHOW POOLS; no console error or CSP violation; no horizontal scrolling at
// 1366×768 nor at 390 px wide. Screenshots go to test-output/dashboard/.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { IngestServer } from '../../ingest/server';
import { INGEST_POOL_DB } from '../../config-templates/names';
import { stopAllTestServers } from '../harness';
import { idleIngestClients, openRequest, startIngestStack, TOKENS, upload, type IngestStack } from './stack';

// Like PgBouncer and Caddy for the other tests, the browser is the machine's (.ci/run installs it): without it
// this test fails rather than passing unseen.
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
// The page's globals as the callbacks of page.evaluate use them: this file is compiled for Node, without the DOM
// library (module-scoped declarations, so no other file sees them).
interface PageElement {
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  readonly value: number;
  readonly max: number;
  readonly position: number;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  readonly scrollingElement: { readonly scrollWidth: number } | null;
  addEventListener(
    type: string,
    listener: (e: { violatedDirective: string; blockedURI: string }) => void,
  ): void;
};
declare const window: { readonly innerWidth: number };
declare const sessionStorage: { getItem(key: string): string | null };

const OUT = path.join(__dirname, '..', '..', 'test-output', 'dashboard');

let stack: IngestStack;
let w: IngestServer;
let browser: Browser;
let page: Page;
/** Console errors, page errors and CSP violations, from the first load on. */
const problems: string[] = [];

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is missing: apt-get install -y chromium (see .ci/run)');
  fs.mkdirSync(OUT, { recursive: true });
  stack = await startIngestStack();
  w = await stack.startWorker({}, { historyIntervalMs: 1000 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Chromium's sandbox needs user namespaces it cannot have as root (CI runs as root); the page is our own.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`),
    ),
  );
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await w?.close();
  await stopAllTestServers();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the page until `read` gives a value (the page itself polls every 2 s). */
async function onPage<T>(what: string, read: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`the page never showed ${what}`);
    await sleep(200);
  }
}

const noHorizontalScroll = () =>
  page.evaluate(() => ({ scroll: document.scrollingElement!.scrollWidth, width: window.innerWidth }));

it('signs in, follows uploads live, shows a failure and PgBouncer as SHOW POOLS does, at 1366×768 and 390 px', async () => {
  // Sign-in: a wrong token is refused on the page, the right one opens the dashboard; never in the URL.
  await page.goto(`${w.url}/admin`);
  await page.fill('#token', 'not-the-admin-token');
  await page.click('#signin button[type=submit]');
  await onPage('the refusal', async () =>
    (await page.textContent('#signin-error'))?.includes('refused') ? true : undefined,
  );
  // Chrome logs the refused request itself; that one line is expected, nothing else.
  expect(problems).toEqual([expect.stringMatching(/status of 401/)]);
  problems.length = 0;
  await page.fill('#token', TOKENS.admin);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#dashboard:not([hidden])');
  expect(page.url()).toBe(`${w.url}/admin`);
  expect(await page.evaluate(() => sessionStorage.getItem('powerhouse.adminToken'))).toBe(TOKENS.admin);

  // A throttled upload with a Content-Length (a determinate bar) and a bad one.
  const rows = 2400;
  const body =
    'tm_id,source,target\n' +
    Array.from({ length: rows }, (_, i) => `42,browser source ${i},browser target ${i}`).join('\n') +
    '\n';
  const slow = openRequest(w.url, '/v1/tables/tm_entries/uploads', {
    token: TOKENS.other,
    contentType: 'text/csv',
    headers: { 'Content-Length': String(Buffer.byteLength(body)) },
  });
  const pieces = 40;
  const size = Math.ceil(body.length / pieces);
  const sending = (async () => {
    for (let i = 0; i < pieces; i++) {
      slow.req.write(body.slice(i * size, (i + 1) * size));
      await sleep(250); // ~10 s for the whole body: several polls see it move
    }
    slow.req.end();
  })();
  const bad = await upload(w.url, 'tm_entries', 'csv', 'tm_id,source,target\n1,a,b\n2,c,d\nthree,e,f\n');
  expect([bad.status, bad.body.error, bad.body.row]).toEqual([400, 'bad_row', 3]);

  const bar = async () =>
    page.evaluate(() => {
      const row = [...document.querySelectorAll('#live tbody tr')].find(
        (r) => r.querySelector('[data-field=token]')?.textContent === 'other',
      );
      const p = row?.querySelector('progress');
      return p ? { id: row!.dataset.uploadId!, value: p.value, max: p.max, position: p.position } : undefined;
    });
  const first = await onPage('the upload in flight', async () => {
    const b = await bar();
    return b && b.value > 0 ? b : undefined;
  });
  expect(first.max).toBe(Buffer.byteLength(body)); // the declared size is the bar's total
  expect(first.value).toBeLessThan(first.max);
  await page.screenshot({ path: path.join(OUT, 'dashboard-1366.png'), fullPage: true });
  const second = await onPage('the bar advancing', async () => {
    const b = await bar();
    return b && b.value > first.value ? b : undefined;
  });
  expect(second.id).toBe(first.id);

  await sending;
  const created = await slow.response;
  expect([created.status, created.body.rows]).toEqual([201, rows]);
  // Complete: out of the live table, into the finished ones as committed with every row.
  const done = await onPage('the upload committed', () =>
    page.evaluate((id) => {
      const row = document.querySelector(`#finished tr[data-upload-id="${id}"]`);
      const live = document.querySelector(`#live tr[data-upload-id="${id}"]`);
      if (!row || live) return undefined;
      const f = (k: string) =>
        row.querySelector(`[data-field=${k}]`)?.getAttribute('data-value') ??
        row.querySelector(`[data-field=${k}]`)?.textContent;
      return { state: f('state'), rows: f('rows') };
    }, first.id),
  );
  expect(done).toEqual({ state: 'committed', rows: String(rows) });
  expect(created.body.uploadId).toBe(first.id);

  // The failed upload: its kind and the row the worker named.
  const failed = await page.evaluate(() =>
    [...document.querySelectorAll('#finished tbody tr.failed')].map((r) => ({
      kind: r.querySelector('[data-field=error]')?.getAttribute('data-value'),
      text: r.querySelector('[data-field=error]')?.textContent,
    })),
  );
  expect(failed).toEqual([{ kind: 'bad_row', text: expect.stringContaining('row 3, column "tm_id"') }]);
  expect(await page.textContent('#lasthour-db')).toMatch(/1 failed: bad_row ×1/);

  // PgBouncer: three idle clients of the ingest entry hold its numbers still; the page equals SHOW POOLS.
  const clients = await idleIngestClients(stack, 3);
  try {
    const fields = ['cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'sv_used'];
    const shown = () =>
      page.evaluate(
        ({ pool, fields }) => {
          const row = document.querySelector(`#pools tr[data-pool="${pool}"]`);
          return Object.fromEntries(
            fields.map((f) => [f, row?.querySelector(`[data-field=${f}]`)?.getAttribute('data-value')]),
          );
        },
        { pool: `${INGEST_POOL_DB}/${INGEST_POOL_DB}`, fields },
      );
    const [onScreen, pools] = await onPage('the pools as SHOW POOLS prints them', async () => {
      const s = await shown();
      const p = await stack.ingestPool();
      const want = Object.fromEntries(fields.map((f) => [f, String(p[f])]));
      return JSON.stringify(s) === JSON.stringify(want) ? [s, want] : undefined;
    });
    expect(onScreen).toEqual(pools);
    expect(Number(onScreen.cl_active)).toBeGreaterThanOrEqual(4);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  // The chart drew this worker's throughput (uPlot's canvas), and the connections bar its segments.
  expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0);
  expect(await page.locator('#connections .seg').count()).toBeGreaterThan(0);

  expect(await noHorizontalScroll()).toEqual({ scroll: 1366, width: 1366 });
  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(2500); // a poll re-renders at the new width
  const narrow = await noHorizontalScroll();
  expect(narrow.scroll).toBeLessThanOrEqual(narrow.width);
  expect(narrow.width).toBe(390);
  await page.screenshot({ path: path.join(OUT, 'dashboard-390.png'), fullPage: true });

  // Sign out: the token leaves sessionStorage and the form is back.
  await page.click('#signout');
  expect(await page.evaluate(() => sessionStorage.getItem('powerhouse.adminToken'))).toBeNull();
  expect(await page.isVisible('#signin')).toBe(true);
  expect(problems).toEqual([]);
}, 90_000);

// Load on the real stack: PgBouncer holding its max_client_conn (1000 for this tier) client connections at
// once while they all get queries served, and 200 uploads arriving at once at a worker that takes N: the
// excess is told 503 + Retry-After straight away (nobody hangs), every accepted upload completes, and every
// refused one succeeds on retry, each row stored exactly once.
import fs from 'node:fs';
import { Client } from 'pg';
import { APP_POOL_DB } from '../../config-templates';
import {
  answered,
  getJson,
  isDropped,
  openUpload,
  sleep,
  upload,
  type OpenUpload,
  type Outcome,
} from './http-client';
import { fileRowsNdjson } from './file-rows';
import { startLiveStack, type LiveStack } from './live-stack';

jest.setTimeout(240_000);

const N = 8; // concurrent uploaders of the tier: ingest pool = worker limit; max_client_conn = max(1000, 20 N)
let live: LiveStack;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  live = await startLiveStack({ users: N, extraTokens: 20 });
}, 120_000);

afterAll(async () => {
  await live?.stop();
  console.log(`load: ${JSON.stringify(figures)}`);
});

function openFilesLimit(pid: number | 'self'): number {
  const limits = fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  if (!m) throw new Error(`no "Max open files" in /proc/${pid}/limits`);
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

describe('PgBouncer at max_client_conn', () => {
  const clients: Client[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });

  it('holds every allowed client connection at once, serves queries on all of them, and refuses one more', async () => {
    const maxClientConn = Number(live.stack.settings.pgbouncer.global.max_client_conn.value);
    expect(maxClientConn).toBe(1000);
    // Descriptors: this process opens one socket per client; PgBouncer needs one per client and server.
    const mine = openFilesLimit('self');
    if (mine < maxClientConn + 200)
      throw new Error(
        `ulimit -n is ${mine} here; this test needs ${maxClientConn + 200}: run it with ulimit -n 4096`,
      );
    expect(openFilesLimit(live.stack.bouncer!.pid)).toBeGreaterThanOrEqual(
      live.stack.settings.pgbouncer.fdNeed.value,
    );

    const [lists] = [await live.console('SHOW LISTS')];
    const usedBefore = Number(lists.find((r) => r.list === 'used_clients')!.items);
    const toOpen = maxClientConn - usedBefore;
    figures.clientsAlreadyConnected = usedBefore;
    figures.appClientsOpened = toOpen;

    const dsn = live.stack.appDsn;
    for (let i = 0; i < toOpen; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, toOpen - i) }, async () => {
          const c = new Client({ connectionString: dsn, connectionTimeoutMillis: 30_000 });
          c.on('error', () => undefined);
          clients.push(c);
          await c.connect();
        }),
      );
    }
    const used = Number((await live.console('SHOW LISTS')).find((r) => r.list === 'used_clients')!.items);
    // The console connection asking is one of them (counted once more now than in usedBefore's snapshot).
    expect(used).toBeGreaterThanOrEqual(maxClientConn);
    figures.clientsHeldAtOnce = used;

    // Every connection gets a query served through the transaction pool (pool_size server connections).
    const results = await Promise.all(
      clients.map((c, i) =>
        c.query('SELECT $1::int AS i, pg_backend_pid() AS pid', [i]).then((r) => r.rows[0]),
      ),
    );
    expect(results.map((r) => r.i)).toEqual(clients.map((_c, i) => i));
    const servers = new Set(results.map((r) => r.pid)).size;
    const appPool = live.stack.settings.pgbouncer.app;
    expect(servers).toBeLessThanOrEqual(appPool.poolSize.value + appPool.reservePool.value);
    figures.queriesServed = results.length;
    figures.serverConnectionsUsed = servers;

    // One more is refused by PgBouncer, with its reason.
    const extra = new Client({ connectionString: dsn, connectionTimeoutMillis: 10_000 });
    extra.on('error', () => undefined);
    await expect(extra.connect()).rejects.toThrow(/no more connections allowed|max_client_conn/);
    await extra.end().catch(() => undefined);

    // The pool entry shows them all as clients, none left waiting once the queries are done.
    const pools = await live.console('SHOW POOLS');
    const app = pools.find((r) => r.database === APP_POOL_DB)!;
    expect(Number(app.cl_active) + Number(app.cl_waiting)).toBe(toOpen);
    expect(Number(app.cl_waiting)).toBe(0);

    // Observed, not asserted: the worker needs client slots too (max_client_conn is global in PgBouncer 1.18).
    const during = await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(19_000, 3), {
      token: live.token,
    });
    figures.uploadWhileSaturated = isDropped(during)
      ? 'dropped'
      : `${during.status} ${during.body.message ?? ''}`;

    // A second round of queries on all of them, still served.
    const again = await Promise.all(clients.map((c) => c.query('SELECT 1 AS one')));
    expect(again.every((r) => r.rows[0].one === 1)).toBe(true);
  });
});

describe('200 uploads at once against a worker limit of N', () => {
  it('N are taken, the rest get 503 + Retry-After at once; all accepted complete; every retry lands exactly once', async () => {
    const tokens = live.stack.tokens; // 20 users: the global limit N binds before the per-token limit
    const UPLOADS = 200;
    const ROWS = 50;
    const fileIdOf = (i: number) => 20_000 + i;
    const keyOf = (i: number) => `burst-${i}`;
    const tokenOf = (i: number) => tokens[i % tokens.length];
    const bodyOf = (i: number) => fileRowsNdjson(fileIdOf(i), ROWS).join('');

    // One upload committed before the burst, to look up from the database while every slot is taken.
    const earlier = answered(
      await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(19_999, 3), {
        token: live.token,
        key: 'before-burst',
      }),
    );
    expect(earlier.status).toBe(201);
    await live.stack.restartWorker('graceful'); // its record now lives only in the database

    const open: OpenUpload[] = [];
    for (let i = 0; i < UPLOADS; i++) {
      const u = openUpload(live.url, 'file_rows', 'ndjson', { token: tokenOf(i), key: keyOf(i) });
      open.push(u);
      void u.write(bodyOf(i).slice(0, 100)); // the start of the first row: an accepted upload waits for more
    }
    // Every request is either refused (answered) or holding a slot; nothing else may happen.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const settled = open.filter((u) => u.settled).length;
      if (settled >= UPLOADS - N) break;
      if (Date.now() > deadline) throw new Error(`only ${settled} of ${UPLOADS} uploads were answered`);
      await sleep(20);
    }
    await sleep(300); // room for a wrong extra answer to arrive
    const refused = open.map((u, i) => ({ u, i })).filter(({ u }) => u.settled);
    const accepted = open.map((u, i) => ({ u, i })).filter(({ u }) => !u.settled);
    expect(accepted.length).toBe(N);
    figures.burst = { uploads: UPLOADS, acceptedAtOnce: accepted.length, refused: refused.length };

    // With every upload slot busy, the worker still answers
    // readiness and progress from the database: its ops connections have their own room in the pool.
    const ready = await getJson(live.url, '/readyz');
    expect({ status: ready.status, body: ready.body }).toMatchObject({
      status: 200,
      body: { status: 'ready' },
    });
    const progress = await getJson(live.url, '/v1/uploads?idempotencyKey=before-burst', live.token);
    expect(progress.body).toMatchObject({ state: 'committed', rows: 3 });
    // Of the N, the tier's COPY turns hold a server connection each; the others wait queued, holding none.
    const turns = Math.min(N, live.stack.config.limits.maxActiveCopies ?? N);
    const pool = await live.ingestPool();
    expect(Number(pool.sv_active)).toBeGreaterThanOrEqual(turns);
    const states = await Promise.all(
      accepted.map(
        async ({ i }) =>
          (await getJson(live.url, `/v1/uploads?idempotencyKey=${keyOf(i)}`, tokenOf(i))).body.state,
      ),
    );
    expect(states.filter((st) => st === 'queued')).toHaveLength(N - turns);

    for (const { u } of refused) {
      const o = answered(await u.outcome);
      expect(o.status).toBe(503);
      expect(o.body.error).toBe('unavailable');
      expect(Number(o.headers['retry-after'])).toBe(live.stack.config.limits.retryAfterSeconds);
      u.abort();
    }

    // The accepted ones finish their bodies and commit.
    await Promise.all(
      accepted.map(async ({ u, i }) => {
        await u.write(bodyOf(i).slice(100));
        u.end();
      }),
    );
    const acceptedOutcomes: Outcome[] = await Promise.all(accepted.map(({ u }) => u.outcome));
    for (const o of acceptedOutcomes) {
      expect(isDropped(o)).toBe(false);
      expect(answered(o).status).toBe(201);
      expect(answered(o).body.rows).toBe(ROWS);
    }

    // The refused ones retry with their keys, N at a time, until each is in.
    let retries = 0;
    let queue = refused.map(({ i }) => i);
    while (queue.length > 0) {
      const wave = queue.slice(0, N);
      const outcomes = await Promise.all(
        wave.map((i) =>
          upload(live.url, 'file_rows', 'ndjson', bodyOf(i), { token: tokenOf(i), key: keyOf(i) }),
        ),
      );
      retries += wave.length;
      const again: number[] = [];
      outcomes.forEach((o, k) => {
        const r = answered(o);
        if (r.status === 503) again.push(wave[k]);
        else expect(r.status).toBe(201);
      });
      queue = [...again, ...queue.slice(N)];
    }
    figures.retries = retries;

    const [r] = await live.sql<{ rows: number; files: number; dup: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT file_id)::int AS files,
              (SELECT count(*)::int FROM (SELECT 1 FROM file_rows WHERE file_id BETWEEN $1 AND $2
                                           GROUP BY file_id, row_num HAVING count(*) > 1) d) AS dup
         FROM file_rows WHERE file_id BETWEEN $1 AND $2`,
      [fileIdOf(0), fileIdOf(UPLOADS - 1)],
    );
    expect(r).toEqual({ rows: UPLOADS * ROWS, files: UPLOADS, dup: 0 });
    figures.rowsFound = r.rows;
    await live.waitQuiet();
  });
});

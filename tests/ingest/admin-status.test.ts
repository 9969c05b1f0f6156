// GET /v1/admin/status and the dashboard's assets (docs/INGEST-API.md, "Ops status and dashboard"), against a
// worker on a real PostgreSQL 16 behind PgBouncer: the admin token only, every section cross-checked with
// what PostgreSQL and PgBouncer's console say themselves, live progress of throttled uploads, the last
// hour's failures by kind, one computation per second shared by every viewer, no upload-pool connection.
import { Client, Pool } from 'pg';
import type { IngestServer } from '../../ingest/server';
import type { AdminStatus, DatabaseStatus, PgBouncerStatus } from '../../ingest/status/types';
import { INGEST_POOL_DB } from '../../config-templates/names';
import { stopAllTestServers } from '../harness';
import {
  eventually,
  LogCapture,
  openRequest,
  request,
  startIngestStack,
  TOKENS,
  upload,
  type IngestStack,
  idleIngestClients,
} from './stack';

let stack: IngestStack;
let w: IngestServer;
let uploadPool: Pool;
/** Upload-pool checkouts (pg-pool's 'acquire'): uploads take them, status readings must not. */
let acquired = 0;
const log = new LogCapture();

beforeAll(async () => {
  stack = await startIngestStack();
  // The worker's upload pool, handed in so the test can count its checkouts; a real pool on PgBouncer.
  uploadPool = new Pool({ connectionString: stack.ingestUrl, max: 8, application_name: 'powerhouse-ingest' });
  uploadPool.on('acquire', () => acquired++);
  w = await stack.startWorker(
    { logLevel: 'info' },
    { pool: uploadPool, logStream: log, historyIntervalMs: 500 },
  );
}, 60_000);

afterAll(async () => {
  await w?.close();
  await uploadPool?.end();
  await stopAllTestServers();
});

const status = async (token = TOKENS.admin) => {
  const r = await request(w.url, '/v1/admin/status', { method: 'GET', token });
  expect(r.status).toBe(200);
  return r.body as unknown as AdminStatus;
};
const database = (s: AdminStatus) => {
  if ('error' in s.database) throw new Error(`database section: ${s.database.error}`);
  return s.database as DatabaseStatus;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A fresh reading: waits out the 1 s cache. */
const fresh = async () => {
  await sleep(1100);
  return status();
};
const csv = (rows: number, tag: string) =>
  'tm_id,source,target\n' + Array.from({ length: rows }, (_, i) => `31,${tag}${i},t${i}`).join('\n') + '\n';

describe('GET /v1/admin/status', () => {
  it('takes the admin token only: 401 without (the JSON error of the contract), 403 for an upload token', async () => {
    const none = await request(w.url, '/v1/admin/status', { method: 'GET' });
    expect([none.status, none.body, none.headers['www-authenticate']]).toEqual([
      401,
      { error: 'unauthorized' },
      'Bearer',
    ]);
    expect((await request(w.url, '/v1/admin/status', { method: 'GET', token: 'wrong' })).status).toBe(401);
    const upl = await request(w.url, '/v1/admin/status', { method: 'GET', token: TOKENS.writer });
    expect([upl.status, upl.body.error]).toEqual([403, 'forbidden']);
    const ok = await request(w.url, '/v1/admin/status', { method: 'GET', token: TOKENS.admin });
    expect([ok.status, ok.headers['content-type'], ok.headers['cache-control']]).toEqual([
      200,
      'application/json; charset=utf-8',
      'no-store',
    ]);
    const post = await request(w.url, '/v1/admin/status', { method: 'POST', token: TOKENS.admin });
    expect([post.status, post.headers.allow]).toEqual([405, 'GET']);
  });

  it("reports PostgreSQL's own numbers: max_connections, backends, the ingest role's states, sizes, WAL, checkpoints", async () => {
    // A superuser session the ingest role may not see the state of, held open across both readings.
    const su = new Client({ connectionString: stack.superDbUrl });
    await su.connect();
    try {
      await upload(w.url, 'tm_entries', 'csv', csv(2000, 'size'));
      await su.query('ANALYZE public.tm_entries');
      const expected = async () => {
        const { rows } = await su.query(
          `SELECT current_setting('max_connections')::int AS max,
                  (SELECT sum(numbackends)::int FROM pg_stat_database) AS total,
                  (SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'powerhouse_ingest' AND backend_type = 'client backend') AS ingest,
                  pg_database_size(current_database())::float8 AS db,
                  pg_total_relation_size('public.tm_entries')::float8 AS tm,
                  (SELECT reltuples::float8 FROM pg_class WHERE oid = 'public.tm_entries'::regclass) AS tm_rows,
                  (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)::int AS checkpoints,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal`,
        );
        return rows[0];
      };
      // Backends come and go (PgBouncer's pool, the token refresh): equal once two readings agree.
      const [db, want] = await eventually(async () => {
        const before = await expected();
        const d = database(await fresh());
        const after = await expected();
        return before.total === after.total && d.connections.total === after.total ? [d, after] : undefined;
      }, 20);
      expect(db.maxConnections).toBe(want.max);
      expect(db.connections.total).toBe(want.total);
      // Visible: the ingest role's own sessions (PgBouncer's server connections), with their states.
      const visible = Object.values(db.connections.byState).reduce((a, b) => a + b, 0);
      expect(visible).toBe(want.ingest);
      // The superuser's session is counted but its state is hidden from the ingest role.
      expect(db.connections.stateHidden).toBeGreaterThanOrEqual(1);
      expect(db.connections.stateHidden).toBe(want.total - visible);
      expect(Math.abs(db.databaseBytes - want.db)).toBeLessThan(256 * 1024);
      const tm = db.tables.find((t) => t.table === 'tm_entries')!;
      expect(tm.totalBytes).toBe(want.tm);
      expect(tm.rowsEstimate).toBe(want.tm_rows);
      expect(tm.rowsEstimate).toBeGreaterThanOrEqual(2000);
      expect(db.tables.map((t) => t.table)).toEqual(['tm_entries', 'file_rows', 'typed_rows', 'keyed']);
      expect(db.checkpoints.timed + db.checkpoints.requested).toBe(want.checkpoints);
      expect(db.walBytes).toBeLessThanOrEqual(want.wal);
      expect(db.walBytes).toBeGreaterThan(want.wal - 1024 * 1024);
    } finally {
      await su.end();
    }
  });

  it('measures the WAL rate between readings at least 5 s apart', async () => {
    const first = database(await fresh());
    await upload(w.url, 'tm_entries', 'csv', csv(20_000, 'wal'));
    await sleep(5200);
    const later = database(await status());
    expect(later.walBytes - first.walBytes).toBeGreaterThan(1024 * 1024);
    expect(later.walBytesPerSecond).not.toBeNull();
    expect(later.walBytesPerSecond!).toBeGreaterThan(0);
  });

  it('names the oldest open transaction of the sessions it may see', async () => {
    const c = new Client({ connectionString: stack.ingestUrl, application_name: 'status-test-open-xact' });
    await c.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await sleep(1500);
      const oldest = database(await fresh()).oldestTransaction;
      expect(oldest).toMatchObject({
        pid: rows[0].pid,
        role: 'powerhouse_ingest',
        state: 'idle in transaction',
      });
      expect(oldest!.ageSeconds).toBeGreaterThanOrEqual(1.5);
      await c.query('ROLLBACK');
    } finally {
      await c.end();
    }
    const after = database(await fresh()).oldestTransaction;
    expect(after?.applicationName).not.toBe('status-test-open-xact');
  });

  it('shows PgBouncer pools as SHOW POOLS prints them', async () => {
    // Three idle clients of the ingest entry: a count that holds still while the test compares.
    const clients = await idleIngestClients(stack, 3);
    try {
      const fields = ['cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'sv_used', 'maxwait', 'pool_mode'];
      const pick = (r: Record<string, unknown>) => Object.fromEntries(fields.map((f) => [f, String(r[f])]));
      const [mine, theirs] = await eventually(async () => {
        const s = await fresh();
        const pools = (s.pgbouncer as PgBouncerStatus).pools;
        const row = pools.find((p) => p.database === INGEST_POOL_DB)!;
        const shown = await stack.ingestPool();
        return JSON.stringify(pick(row)) === JSON.stringify(pick(shown)) ? [row, shown] : undefined;
      }, 10);
      expect(pick(mine)).toEqual(pick(theirs));
      // The worker's own clients (upload and ops pools, the status console's) plus the test's three.
      expect(Number(mine.cl_active)).toBeGreaterThanOrEqual(3 + 1);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("lists this worker's live uploads with their progress: the declared total, or none for a chunked body", async () => {
    const body = csv(3000, 'live');
    const half = body.length >> 1;
    const sized = openRequest(w.url, '/v1/tables/tm_entries/uploads', {
      token: TOKENS.other,
      contentType: 'text/csv',
      headers: { 'Content-Length': String(Buffer.byteLength(body)) },
    });
    sized.req.write(body.slice(0, half));
    const chunked = openRequest(w.url, '/v1/tables/file_rows/uploads', {
      token: TOKENS.writer,
      contentType: 'text/csv',
    });
    chunked.req.write('file_id,row_num,source\n1,1,a\n1,2,b\n');
    try {
      const live = await eventually(async () => {
        const s = await fresh();
        const l = s.worker.live;
        return l.length === 2 && l.every((u) => u.rows > 0) ? s.worker : undefined;
      }, 10);
      const a = live.live.find((u) => u.table === 'tm_entries')!;
      const b = live.live.find((u) => u.table === 'file_rows')!;
      expect(a).toMatchObject({
        token: 'other',
        state: 'receiving',
        bytes: half,
        bytesTotal: Buffer.byteLength(body),
      });
      expect(a.rows).toBeGreaterThan(1000);
      expect(a.rows).toBeLessThan(3000);
      expect(b).toMatchObject({ token: 'writer', state: 'receiving', bytesTotal: null, rows: 2 });
      expect(a.elapsedSeconds).toBeGreaterThan(0);
      expect(a.rowsPerSecond).toBeCloseTo(a.rows / a.elapsedSeconds, 0);
      expect(live.uploadsInFlight).toBe(2);
      // The sized body declares under copyTurnFreeBytes: only the chunked one took one of the 2 COPY turns.
      expect(live.copyTurns).toEqual({ limit: 2, running: 1, waiting: 0 });
    } finally {
      sized.req.end(body.slice(half));
      chunked.req.end('1,3,c\n');
    }
    expect((await sized.response).status).toBe(201);
    expect((await chunked.response).status).toBe(201);
    const done = await fresh();
    expect(done.worker.live).toEqual([]);
    expect(
      done.worker.lastHour.recent
        .slice(0, 2)
        .map((f) => [f.table, f.state, f.rows])
        .sort(),
    ).toEqual([
      ['file_rows', 'committed', 3],
      ['tm_entries', 'committed', 3000],
    ]);
  });

  it("keeps 15 minutes of this worker's throughput and the queue-wait p95 of the window", async () => {
    const before = (await fresh()).worker;
    expect(before.throughput).toMatchObject({ intervalSeconds: 0.5, windowSeconds: 900 });
    await upload(w.url, 'tm_entries', 'csv', csv(5000, 'rate'));
    await sleep(1200);
    const after = (await status()).worker;
    const samples = after.throughput.samples;
    const last = before.throughput.samples.at(-1)!.t;
    // Each sample's rate times its interval: the rows read in it (the first interval after `before` included).
    let rows = 0;
    for (let i = 1; i < samples.length; i++)
      if (samples[i].t > last) rows += (samples[i].rowsPerSecond * (samples[i].t - samples[i - 1].t)) / 1000;
    expect(rows).toBeGreaterThan(5000 * 0.9);
    expect(rows).toBeLessThan(5000 * 1.1);
    expect(after.queueWaitP95Seconds).not.toBeNull();
    expect(after.queueWaitP95Seconds!).toBeGreaterThanOrEqual(0);
    expect(after.queueWaitP95Seconds!).toBeLessThan(1);
  });

  it("counts the last hour's uploads from the database (all workers) and this worker's failures by kind", async () => {
    const bad = await upload(w.url, 'tm_entries', 'csv', 'tm_id,source,target\n1,a,b\nnope,c,d\n');
    expect([bad.status, bad.body.error]).toEqual([400, 'bad_row']);
    const s = await fresh();
    const rows = await stack.sql<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM powerhouse.uploads WHERE finished_at > now() - interval '1 hour' GROUP BY 1`,
    );
    const n = (st: string) => rows.find((r) => r.status === st)?.n ?? 0;
    const db = database(s).lastHour;
    expect([db.committed, db.failed]).toEqual([n('committed'), n('failed')]);
    expect(db.failedByKind.bad_row).toBeGreaterThanOrEqual(1);
    expect(db.recent[0]).toMatchObject({
      status: 'failed',
      errorKind: 'bad_row',
      table: 'tm_entries',
      token: 'writer',
    });
    const mine = s.worker.lastHour;
    expect(mine.failedByKind.bad_row).toBe(1);
    expect(mine.recent[0]).toMatchObject({
      state: 'failed',
      table: 'tm_entries',
      error: { error: 'bad_row', row: 2 },
    });
    expect(mine.committed).toBe(s.worker.lastHour.recent.filter((f) => f.state === 'committed').length);
  });

  it('is computed at most once per second for every viewer, on the ops pool, never the upload pool', async () => {
    await sleep(1100);
    const before = acquired;
    const many = await Promise.all(Array.from({ length: 20 }, () => status()));
    expect(new Set(many.map((m) => m.generatedAt)).size).toBe(1);
    const again = await status();
    expect(again.generatedAt).toBe(many[0].generatedAt);
    const later = await fresh();
    expect(later.generatedAt > many[0].generatedAt).toBe(true);
    expect(acquired).toBe(before);
    // The server connections whose last statement was the status reading ran it for the ops pool's client:
    // PgBouncer sets each client's application_name on the server connection it lends it.
    const seen = await stack.sql<{ application_name: string }>(
      `SELECT application_name FROM pg_stat_activity
        WHERE query LIKE '%json_build_object(%maxConnections%' AND pid <> pg_backend_pid()`,
    );
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((r) => r.application_name))).toEqual(new Set(['powerhouse-ingest-ops']));
    expect(acquired).toBe(before);
  });

  it('never writes the admin token to the access log', async () => {
    await status();
    const lines = log.lines.filter((l) => l.includes('/v1/admin/status') && l.includes('"status":200'));
    expect(lines.length).toBeGreaterThan(0);
    expect(log.text).not.toContain(TOKENS.admin);
    expect(JSON.parse(lines[0]).req.headers.authorization).toBe('[redacted]');
  });
});

describe('GET /admin and its assets', () => {
  it('serves the page, script and stylesheet without a token, under a CSP of this origin only', async () => {
    const page = await request(w.url, '/admin', { method: 'GET' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // Nothing inline, nothing from elsewhere: the CSP would refuse it, and the page would break.
    expect(page.text).not.toMatch(/<script>|<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=|https?:\/\//i);
    expect(page.text).toContain('<script src="/admin/dashboard.js" defer></script>');
    const js = await request(w.url, '/admin/dashboard.js', { method: 'GET' });
    expect([js.status, js.headers['content-type'], js.headers['content-security-policy']]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      csp,
    ]);
    expect(js.text).toContain('/v1/admin/status');
    expect(js.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    const css = await request(w.url, '/admin/dashboard.css', { method: 'GET' });
    expect([css.status, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
    expect(css.text).toContain('.u-legend'); // uPlot's own stylesheet, bundled
    const again = await request(w.url, '/admin/dashboard.js', {
      method: 'GET',
      headers: { 'If-None-Match': js.headers.etag as string },
    });
    expect([again.status, again.text]).toEqual([304, '']);
    expect((await request(w.url, '/admin/', { method: 'GET' })).status).toBe(404);
    expect((await request(w.url, '/admin/other.js', { method: 'GET' })).status).toBe(404);
  });
});

// Idempotency (201 / 200 replay / 409 / 422), progress, concurrency limits (503), client disconnects,
// the PgBouncer hazard (30 uploads failing mid-stream at once), shutdown, readiness, metrics, admin route and
// logs: one real PostgreSQL 16 + PgBouncer, several workers in-process.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { INGEST_POOL_DB, ROLES } from '../../config-templates/names';
import { CatalogError } from '../../ingest/catalog';
import { createIngestServer, type IngestServer } from '../../ingest/server';
import { hashToken } from '../../ingest/config';
import { randomPassword, stopAllTestServers } from '../harness';
import { pgcopy } from './pgcopy-fixture';
import {
  CT,
  LogCapture,
  TOKENS,
  eventually,
  openRequest,
  request,
  scrapeMetrics,
  startIngestStack,
  upload,
  type HttpResult,
  type IngestStack,
} from './stack';

let stack: IngestStack;
let main: IngestServer;
let logs: LogCapture;

beforeAll(async () => {
  stack = await startIngestStack();
  logs = new LogCapture();
  main = await stack.startWorker(
    { logLevel: 'info', limits: { maxConcurrentUploadsPerToken: 32 } },
    { logStream: logs },
  );
}, 60_000);

afterAll(async () => {
  await main?.close();
  await stopAllTestServers();
});

const ndjsonRows = (fileId: number, from: number, to: number) =>
  Array.from(
    { length: to - from + 1 },
    (_, i) => JSON.stringify({ file_id: fileId, row_num: from + i, source: `s${from + i}` }) + '\n',
  ).join('');

async function fileCounts(from: number, to: number): Promise<Map<number, number>> {
  const rows = await stack.sql<{ file_id: string; n: number }>(
    'SELECT file_id, count(*)::int AS n FROM file_rows WHERE file_id BETWEEN $1 AND $2 GROUP BY file_id',
    [from, to],
  );
  return new Map(rows.map((r) => [Number(r.file_id), r.n]));
}

/** Starts an upload and leaves its body open; resolves once the worker has received `minBytes`. */
async function holdUpload(
  baseUrl: string,
  table: string,
  key: string,
  firstPiece: string,
  token = TOKENS.writer,
) {
  const held = openRequest(baseUrl, `/v1/tables/${table}/uploads`, {
    token,
    contentType: CT.ndjson,
    headers: { 'Idempotency-Key': key },
  });
  held.req.write(firstPiece);
  const status = await eventually(async () => {
    const res = await request(baseUrl, `/v1/uploads?idempotencyKey=${key}`, { method: 'GET', token });
    return res.status === 200 && (res.body.bytes as number) >= Buffer.byteLength(firstPiece)
      ? res.body
      : undefined;
  });
  return { held, status };
}

/** The ingest role's sessions in PostgreSQL, other than idle ones: an open transaction or a running COPY. */
async function busyIngestSessions(): Promise<{ state: string; query: string }[]> {
  return stack.sql(
    `SELECT state, query FROM pg_stat_activity WHERE usename = $1 AND state <> 'idle' AND pid <> pg_backend_pid()`,
    [ROLES.ingest],
  );
}

async function poolSettled(): Promise<Record<string, string>> {
  return eventually(async () => {
    const pool = await stack.ingestPool();
    const busy = await busyIngestSessions();
    return Number(pool.sv_active) === 0 && Number(pool.cl_waiting) === 0 && busy.length === 0
      ? pool
      : undefined;
  });
}

describe('idempotency', () => {
  it('201, then 200 replay with the same body (nothing written again), then 422 for another body', async () => {
    const body = ndjsonRows(10, 1, 50);
    const first = await upload(main.url, 'file_rows', 'ndjson', body, { key: 'idem-1' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ table: 'file_rows', rows: 50, bytes: Buffer.byteLength(body) });

    // The same body in other pieces is the same body.
    const replay = await upload(main.url, 'file_rows', 'ndjson', [body.slice(0, 7), body.slice(7)], {
      key: 'idem-1',
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ ...first.body, replayed: true });

    const other = await upload(main.url, 'file_rows', 'ndjson', ndjsonRows(10, 1, 51), { key: 'idem-1' });
    expect(other.status).toBe(422);
    expect(other.body).toEqual({ error: 'idempotency_key_reused' });
    expect((await fileCounts(10, 10)).get(10)).toBe(50);

    // A second worker (another process's memory) replays from the upload record in the database.
    const second = await stack.startWorker({ limits: { dbPoolSize: 2 } });
    try {
      const again = await upload(second.url, 'file_rows', 'ndjson', body, { key: 'idem-1' });
      expect(again.status).toBe(200);
      expect(again.body.uploadId).toBe(first.body.uploadId);
      const byId = await request(second.url, `/v1/uploads/${first.body.uploadId}`, {
        method: 'GET',
        token: TOKENS.writer,
      });
      expect(byId.body).toEqual({
        uploadId: first.body.uploadId,
        table: 'file_rows',
        state: 'committed',
        rows: 50,
        bytes: first.body.bytes,
      });
    } finally {
      await second.close();
    }
    expect((await fileCounts(10, 10)).get(10)).toBe(50);
  });

  it('keys are scoped to the token and the table', async () => {
    const a = await upload(main.url, 'file_rows', 'ndjson', ndjsonRows(11, 1, 3), { key: 'idem-scope' });
    const b = await upload(main.url, 'file_rows', 'ndjson', ndjsonRows(11, 4, 6), {
      key: 'idem-scope',
      token: TOKENS.other,
    });
    const c = await upload(main.url, 'tm_entries', 'ndjson', '{"tm_id":11,"source":"a","target":"b"}\n', {
      key: 'idem-scope',
    });
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
    expect((await fileCounts(11, 11)).get(11)).toBe(6);
    // Another token cannot see this token's upload.
    const peek = await request(main.url, `/v1/uploads/${a.body.uploadId}`, {
      method: 'GET',
      token: TOKENS.tmOnly,
    });
    expect(peek.status).toBe(404);
  });

  it('409 while the same key is uploading, in this worker and in another one; the first still commits', async () => {
    const { held } = await holdUpload(main.url, 'file_rows', 'idem-409', ndjsonRows(12, 1, 10));
    const same = await upload(main.url, 'file_rows', 'ndjson', ndjsonRows(12, 1, 20), { key: 'idem-409' });
    expect(same.status).toBe(409);
    expect(same.body).toEqual({ error: 'upload_in_progress' });

    // Another worker has no in-process claim: the transaction-scoped advisory lock answers.
    const second = await stack.startWorker({ limits: { dbPoolSize: 2 } });
    try {
      const elsewhere = await upload(second.url, 'file_rows', 'ndjson', ndjsonRows(12, 1, 20), {
        key: 'idem-409',
      });
      expect(elsewhere.status).toBe(409);
    } finally {
      await second.close();
    }
    held.req.end(ndjsonRows(12, 11, 20));
    const done = await held.response;
    expect(done.status).toBe(201);
    expect(done.body.rows).toBe(20);
    expect((await fileCounts(12, 12)).get(12)).toBe(20);
  });
});

describe('progress', () => {
  it('shows rows and bytes growing while receiving, then the committed result', async () => {
    const first = ndjsonRows(20, 1, 2000);
    const { held, status } = await holdUpload(main.url, 'file_rows', 'progress-1', first);
    expect(status).toMatchObject({ table: 'file_rows', state: 'receiving' });
    expect(status.bytes).toBe(Buffer.byteLength(first));
    const id = status.uploadId as string;
    held.req.write(ndjsonRows(20, 2001, 3000));
    const later = await eventually(async () => {
      const res = await request(main.url, `/v1/uploads/${id}`, { method: 'GET', token: TOKENS.writer });
      return (res.body.bytes as number) > (status.bytes as number) ? res.body : undefined;
    });
    expect(later.state).toBe('receiving');
    expect(later.rows).toBeGreaterThanOrEqual(status.rows as number);
    expect(later.rows).toBeGreaterThan(0);
    held.req.end();
    const done = await held.response;
    expect(done.status).toBe(201);
    expect(done.body.uploadId).toBe(id);
    const final = await request(main.url, `/v1/uploads/${id}`, { method: 'GET', token: TOKENS.writer });
    expect(final.body).toEqual({
      uploadId: id,
      table: 'file_rows',
      state: 'committed',
      rows: 3000,
      bytes: done.body.bytes,
    });
    const byKey = await request(main.url, '/v1/uploads?idempotencyKey=progress-1', {
      method: 'GET',
      token: TOKENS.writer,
    });
    expect(byKey.body).toEqual(final.body);
    const unknown = await request(main.url, '/v1/uploads/00000000-0000-4000-8000-000000000000', {
      method: 'GET',
      token: TOKENS.writer,
    });
    expect(unknown.status).toBe(404);
    expect((await request(main.url, `/v1/uploads/${id}`, { method: 'GET' })).status).toBe(401);
  });

  it('a failed upload can be looked up with its error', async () => {
    const bad = await upload(main.url, 'file_rows', 'ndjson', ndjsonRows(21, 1, 3) + '{oops}\n', {
      key: 'progress-fail',
    });
    expect(bad.status).toBe(400);
    const byKey = await request(main.url, '/v1/uploads?idempotencyKey=progress-fail', {
      method: 'GET',
      token: TOKENS.writer,
    });
    expect(byKey.body).toMatchObject({
      table: 'file_rows',
      state: 'failed',
      error: { error: 'bad_row', row: 4 },
    });
  });
});

describe('limits', () => {
  it('503 with Retry-After above the per-token and the global limit; never a hang, slots come back', async () => {
    const small = await stack.startWorker({
      limits: { dbPoolSize: 4, maxConcurrentUploads: 2, maxConcurrentUploadsPerToken: 1 },
    });
    try {
      const a = await holdUpload(small.url, 'file_rows', 'limit-a', ndjsonRows(30, 1, 5));
      const perToken = await upload(small.url, 'file_rows', 'ndjson', ndjsonRows(31, 1, 5));
      expect(perToken.status).toBe(503);
      expect(perToken.body).toMatchObject({ error: 'unavailable' });
      expect(String(perToken.body.message)).toMatch(/token/);
      expect(perToken.headers['retry-after']).toBe(String(stack.settings.ingest.retryAfterSeconds.value));

      const b = await holdUpload(small.url, 'file_rows', 'limit-b', ndjsonRows(32, 1, 5), TOKENS.other);
      const global = await upload(
        small.url,
        'tm_entries',
        'ndjson',
        '{"tm_id":33,"source":"a","target":"b"}\n',
        { token: TOKENS.tmOnly },
      );
      expect(global.status).toBe(503);
      expect(global.headers['retry-after']).toBeDefined();
      expect(String(global.body.message)).toMatch(/concurrent uploads/);

      a.held.req.end();
      b.held.req.end();
      expect((await a.held.response).status).toBe(201);
      expect((await b.held.response).status).toBe(201);
      const after = await upload(small.url, 'file_rows', 'ndjson', ndjsonRows(31, 1, 5));
      expect(after.status).toBe(201);
      expect(await fileCounts(30, 33)).toEqual(
        new Map([
          [30, 5],
          [31, 5],
          [32, 5],
        ]),
      );
    } finally {
      await small.close();
    }
  });

  it('an upload whose body stops flowing is aborted after the idle timeout; a slow but flowing one is not', async () => {
    const idle = await stack.startWorker({ limits: { dbPoolSize: 2, idleTimeoutMs: 1000 } });
    try {
      const { held } = await holdUpload(idle.url, 'file_rows', 'idle-1', ndjsonRows(40, 1, 10));
      const res = await held.response;
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'bad_request' });
      expect(String(res.body.message)).toMatch(/no request body data for 1000 ms/);
      expect(await fileCounts(40, 40)).toEqual(new Map());

      // Pieces arrive more often than the idle timeout but the whole upload takes several timeouts.
      const slow = openRequest(idle.url, '/v1/tables/file_rows/uploads', {
        token: TOKENS.writer,
        contentType: CT.ndjson,
      });
      for (let i = 1; i <= 25; i++) {
        slow.req.write(ndjsonRows(41, i, i));
        await new Promise((r) => setTimeout(r, 100));
      }
      slow.req.end();
      expect((await slow.response).status).toBe(201);
      expect((await fileCounts(41, 41)).get(41)).toBe(25);
    } finally {
      await idle.close();
    }
  });
});

describe('failures leave nothing and a clean pool', () => {
  it('a client that disconnects mid-upload leaves no rows, no open transaction, an idle pool', async () => {
    // Enough rows that the COPY is running when the client goes away.
    const { held, status } = await holdUpload(main.url, 'file_rows', 'disconnect-1', ndjsonRows(50, 1, 4000));
    expect(status.state).toBe('receiving');
    const copying = await eventually(async () => {
      const s = await busyIngestSessions();
      return s.some((x) => /^COPY/.test(x.query)) ? s : undefined;
    });
    expect(copying.length).toBeGreaterThan(0);
    held.response.catch(() => undefined); // the request dies with its socket
    held.req.destroy();
    const failed = await eventually(async () => {
      const res = await request(main.url, '/v1/uploads?idempotencyKey=disconnect-1', {
        method: 'GET',
        token: TOKENS.writer,
      });
      return res.body.state === 'failed' ? res.body : undefined;
    });
    expect(failed.error).toMatchObject({ error: 'client_aborted' });
    await poolSettled();
    expect(await fileCounts(50, 50)).toEqual(new Map());
    const next = await upload(main.url, 'file_rows', 'ndjson', ndjsonRows(51, 1, 10));
    expect(next.status).toBe(201);
    expect((await fileCounts(51, 51)).get(51)).toBe(10);
  });

  it('PgBouncer hazard: 30 uploads failing mid-stream at once all get clean 400s; then 30 good ones land exactly', async () => {
    const BAD_AT = 1500;
    const bodies: { format: 'ndjson' | 'tsv'; table: string; body: string; marker: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const kind = i % 3;
      if (kind === 0) {
        // Parser-detected: broken JSON at row BAD_AT.
        const body =
          ndjsonRows(1000 + i, 1, BAD_AT - 1) +
          '{"file_id": \n' +
          ndjsonRows(1000 + i, BAD_AT + 1, BAD_AT + 500);
        bodies.push({ format: 'ndjson', table: 'file_rows', body, marker: `f${1000 + i}` });
      } else if (kind === 1) {
        // Server-detected mid-COPY: TSV is passed through; PostgreSQL rejects the integer at row BAD_AT.
        const rows = Array.from({ length: BAD_AT + 500 }, (_, r) => `hz-${i}\t${r + 1 === BAD_AT ? 'x' : r}`);
        bodies.push({
          format: 'tsv',
          table: 'typed_rows',
          body: `t\tn\n${rows.join('\n')}\n`,
          marker: `hz-${i}`,
        });
      } else {
        // Server-detected constraint: CHECK (n >= 0) fails at row BAD_AT.
        const rows = Array.from(
          { length: BAD_AT + 500 },
          (_, r) => JSON.stringify({ t: `hz-${i}`, n: r + 1 === BAD_AT ? -1 : r }) + '\n',
        );
        bodies.push({ format: 'ndjson', table: 'typed_rows', body: rows.join(''), marker: `hz-${i}` });
      }
    }
    const results = await Promise.all(
      bodies.map((b) => {
        const mid = Math.floor(b.body.length / 2);
        return upload(main.url, b.table, b.format, [b.body.slice(0, mid), b.body.slice(mid)]);
      }),
    );
    for (const r of results) {
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'bad_row', row: BAD_AT });
    }
    const pool = await poolSettled();
    expect(Number(pool.sv_active)).toBe(0);
    const [leftovers] = await stack.sql<{ files: number; typed: number }>(
      `SELECT (SELECT count(*)::int FROM file_rows WHERE file_id BETWEEN 1000 AND 1029) AS files,
              (SELECT count(*)::int FROM typed_rows WHERE t LIKE 'hz-%') AS typed`,
    );
    expect(leftovers).toEqual({ files: 0, typed: 0 });

    // The same pool then serves 30 concurrent good uploads, each of a different size and format.
    const sizes = Array.from({ length: 30 }, (_, i) => 200 + 37 * i);
    const good = await Promise.all(
      sizes.map((n, i) => {
        const fileId = 2000 + i;
        const rows = Array.from({ length: n }, (_, r) => ({ row_num: r + 1, source: `g${i}-${r + 1}` }));
        switch (i % 4) {
          case 0:
            return upload(
              main.url,
              'file_rows',
              'ndjson',
              rows.map((r) => JSON.stringify({ file_id: fileId, ...r }) + '\n').join(''),
            );
          case 1:
            return upload(
              main.url,
              'file_rows',
              'csv',
              'file_id,row_num,source\r\n' +
                rows.map((r) => `${fileId},${r.row_num},${r.source}\r\n`).join(''),
            );
          case 2:
            return upload(
              main.url,
              'file_rows',
              'tsv',
              'file_id\trow_num\tsource\n' +
                rows.map((r) => `${fileId}\t${r.row_num}\t${r.source}\n`).join(''),
            );
          default:
            return upload(
              main.url,
              'file_rows',
              'pgcopy',
              pgcopy(rows.map((r) => [{ int8: fileId }, { int4: r.row_num }, { text: r.source }])),
              { columns: 'file_id,row_num,source' },
            );
        }
      }),
    );
    good.forEach((r: HttpResult, i) => {
      expect(r.status).toBe(201);
      expect(r.body.rows).toBe(sizes[i]);
    });
    expect(await fileCounts(2000, 2029)).toEqual(new Map(sizes.map((n, i) => [2000 + i, n])));
    // No cross-talk: every row sits under its own upload's file_id with its own text.
    const [mixed] = await stack.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM file_rows
        WHERE file_id BETWEEN 2000 AND 2029 AND source <> 'g' || (file_id - 2000) || '-' || row_num`,
    );
    expect(mixed.n).toBe(0);
    await poolSettled();
  });
});

describe('database unavailable', () => {
  it('503 + Retry-After while PgBouncer is down, /readyz says so, and the worker recovers by itself', async () => {
    const w = await stack.startWorker({ limits: { dbPoolSize: 2 } });
    try {
      const ready = await request(w.url, '/readyz', { method: 'GET' });
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ready');
      expect(typeof ready.body.latencyMs).toBe('number');

      await stack.bouncer.server.kill();
      const down = await upload(w.url, 'file_rows', 'ndjson', ndjsonRows(60, 1, 5), { key: 'down-1' });
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ error: 'unavailable' });
      expect(down.headers['retry-after']).toBe(String(stack.settings.ingest.retryAfterSeconds.value));
      const notReady = await request(w.url, '/readyz', { method: 'GET' });
      expect(notReady.status).toBe(503);
      expect((await request(w.url, '/healthz', { method: 'GET' })).body).toEqual({ status: 'ok' });

      await stack.bouncer.server.restart();
      const retry = await eventually(async () => {
        const r = await upload(w.url, 'file_rows', 'ndjson', ndjsonRows(60, 1, 5), { key: 'down-1' });
        return r.status === 503 ? undefined : r;
      });
      expect(retry.status).toBe(201);
      expect((await fileCounts(60, 60)).get(60)).toBe(5);
    } finally {
      await w.close();
    }
  });

  it("PostgreSQL down behind a running PgBouncer: 503 after the worker's wait bound, not PgBouncer's minutes", async () => {
    const w = await stack.startWorker({ limits: { dbPoolSize: 2 } }, { serverWaitMs: 1000 });
    try {
      await stack.pg.server.stop('fast');
      const down = await upload(w.url, 'file_rows', 'ndjson', ndjsonRows(61, 1, 5), { key: 'pg-down-1' });
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toBeDefined();
      // Either the worker's own bound, or PgBouncer already knows (it keeps min_pool_size server connections
      // and failed to log one in): both answer at once instead of after query_wait_timeout.
      expect(String(down.body.message)).toMatch(
        /no database server connection within 1000 ms|server login has been failing/,
      );
      const lookup = await request(w.url, '/v1/uploads/00000000-0000-4000-8000-000000000000', {
        method: 'GET',
        token: TOKENS.writer,
      });
      expect(lookup.status).toBe(503);

      await stack.pg.server.restart();
      // PgBouncer waits server_login_retry (15 s) after a failed server login; a restart skips that wait here.
      await stack.bouncer.server.restart();
      const retry = await eventually(async () => {
        const r = await upload(w.url, 'file_rows', 'ndjson', ndjsonRows(61, 1, 5), { key: 'pg-down-1' });
        return r.status === 503 ? undefined : r;
      });
      expect(retry.status).toBe(201);
      expect((await fileCounts(61, 61)).get(61)).toBe(5);
    } finally {
      await w.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('stops accepting, lets a running upload finish, aborts the one that outlives the grace period', async () => {
    const w = await stack.startWorker({ limits: { dbPoolSize: 4, shutdownGraceMs: 2500 } });
    const finishing = await holdUpload(w.url, 'file_rows', 'shutdown-finish', ndjsonRows(70, 1, 100));
    const stuck = await holdUpload(w.url, 'file_rows', 'shutdown-stuck', ndjsonRows(71, 1, 100));
    const closed = w.close();
    // New connections are refused once close() began.
    const refused = await upload(w.url, 'file_rows', 'ndjson', ndjsonRows(72, 1, 1)).catch(
      (err: Error) => err,
    );
    expect(refused).toHaveProperty('code', 'ECONNREFUSED');
    finishing.held.req.end(ndjsonRows(70, 101, 150));
    const ok = await finishing.held.response;
    expect(ok.status).toBe(201);
    const aborted = await stuck.held.response;
    expect(aborted.status).toBe(503);
    expect(aborted.headers['retry-after']).toBeDefined();
    await closed;
    expect(await fileCounts(70, 72)).toEqual(new Map([[70, 150]]));
    await poolSettled();
  });
});

describe('the worker process (ingest/main.ts)', () => {
  it('logs JSON to stdout, re-reads config and catalog on SIGHUP, and on SIGTERM aborts what outlives the grace period, then exits 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-main-'));
    try {
      const config = stack.config({
        migrate: false,
        logLevel: 'info',
        listen: { host: '127.0.0.1', port: 0 },
        limits: { dbPoolSize: 2, shutdownGraceMs: 300 },
      });
      const file = path.join(dir, 'ingest.json');
      fs.writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(__dirname, '../../ingest/main.ts'), file],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, POWERHOUSE_INGEST_TOKEN: '', POWERHOUSE_ADMIN_TOKEN: '' },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const lines = () =>
        stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      const listening = await eventually(
        () => lines().find((l) => l.msg === 'ingest worker listening'),
        3000,
      );
      const base = listening.url as string;

      await stack.sql('ALTER TABLE keyed ADD COLUMN from_sighup text');
      expect((await upload(base, 'keyed', 'ndjson', '{"k":"h1","val":"v","from_sighup":"x"}\n')).status).toBe(
        400,
      );
      child.kill('SIGHUP');
      await eventually(() => lines().find((l) => l.msg === 'configuration reloaded'));
      expect((await upload(base, 'keyed', 'ndjson', '{"k":"h1","val":"v","from_sighup":"x"}\n')).status).toBe(
        201,
      );

      // A new translator's token and a revoked one take effect on SIGHUP, without a restart.
      const added = 'tok-added-' + randomPassword();
      const reloaded = lines().filter((l) => l.msg === 'configuration reloaded').length;
      fs.writeFileSync(
        file,
        JSON.stringify({
          ...config,
          tokens: [
            ...config.tokens.filter((t) => t.id !== 'other'),
            { id: 'added', sha256: hashToken(added), tables: ['keyed'] },
          ],
          limits: { ...config.limits, shutdownGraceMs: 301 },
        }),
      );
      child.kill('SIGHUP');
      const after = await eventually(
        () => lines().filter((l) => l.msg === 'configuration reloaded')[reloaded],
      );
      expect(after.tokens).toEqual(['writer', 'tm-only', 'added']);
      expect(
        lines().find((l) => l.msg === 'changed settings that take effect only after a restart'),
      ).toMatchObject({ settings: ['limits'] });
      const keyedRow = (k: string) => `{"k":"${k}","val":"v"}\n`;
      expect((await upload(base, 'keyed', 'ndjson', keyedRow('h2'), { token: added })).status).toBe(201);
      expect((await upload(base, 'file_rows', 'ndjson', ndjsonRows(94, 1, 1), { token: added })).status).toBe(
        403,
      );
      expect((await upload(base, 'keyed', 'ndjson', keyedRow('h3'), { token: TOKENS.other })).status).toBe(
        401,
      );

      // A broken file is refused as a whole: the running tokens stay.
      fs.writeFileSync(file, '{"tokens": ');
      child.kill('SIGHUP');
      const refused = await eventually(() =>
        lines().find((l) => l.msg === 'config reload failed; keeping the running configuration'),
      );
      expect(JSON.stringify(refused)).toContain('is not valid JSON');
      expect((await upload(base, 'keyed', 'ndjson', keyedRow('h4'), { token: added })).status).toBe(201);
      expect((await upload(base, 'keyed', 'ndjson', keyedRow('h5'), { token: TOKENS.other })).status).toBe(
        401,
      );

      const stuck = await holdUpload(base, 'file_rows', 'main-stuck', ndjsonRows(95, 1, 50));
      child.kill('SIGTERM');
      const aborted = await stuck.held.response;
      expect(aborted.status).toBe(503);
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
      expect(await fileCounts(95, 95)).toEqual(new Map());
      const msgs = lines().map((l) => l.msg);
      expect(msgs).toEqual(
        expect.arrayContaining(['stopping', 'grace period over: aborting uploads', 'ingest worker stopped']),
      );
      for (const token of [...Object.values(TOKENS), added]) expect(stdout).not.toContain(token);
      await poolSettled();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('catalog', () => {
  it('a missing allowlisted table or column is a clear startup error', async () => {
    const w = createIngestServer(
      stack.config({ tables: [{ table: 'tm_entries', columns: ['tm_id', 'nope'] }, { table: 'absent' }] }),
    );
    const err = await w.listen(0, '127.0.0.1').catch((e: Error) => e);
    await w.close();
    expect(err).toBeInstanceOf(CatalogError);
    expect((err as Error).message).toMatch(/table public\.absent does not exist/);
    expect((err as Error).message).toMatch(/column public\.tm_entries\.nope does not exist/);
  });

  it('migrations are idempotent and reload() picks up a new column', async () => {
    const w = await stack.startWorker({ limits: { dbPoolSize: 2 } });
    try {
      const versions = await stack.sql<{ version: number }>(
        'SELECT version FROM powerhouse.schema_migrations ORDER BY 1',
      );
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
      await stack.sql('ALTER TABLE keyed ADD COLUMN extra text');
      const before = await upload(w.url, 'keyed', 'ndjson', '{"k":"r1","val":"v","extra":"e"}\n');
      expect(before.status).toBe(400);
      await w.reload();
      const after = await upload(w.url, 'keyed', 'ndjson', '{"k":"r1","val":"v","extra":"e"}\n');
      expect(after.status).toBe(201);
      expect(await stack.sql('SELECT k, val, extra FROM keyed WHERE k = $1', ['r1'])).toEqual([
        { k: 'r1', val: 'v', extra: 'e' },
      ]);
    } finally {
      await w.close();
    }
  });
});

describe('operations', () => {
  it('/metrics counts committed rows and bytes, errors by kind, active uploads and pool usage', async () => {
    const body = ndjsonRows(80, 1, 7);
    const before = await request(main.url, '/metrics', { method: 'GET' });
    const value = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      return line ? Number(line.slice(series.length + 1)) : 0;
    };
    const rowsSeries = 'powerhouse_ingest_rows_total{table="file_rows"}';
    const badRowSeries = 'powerhouse_ingest_errors_total{kind="bad_row"}';
    expect((await upload(main.url, 'file_rows', 'ndjson', body)).status).toBe(201);
    expect((await upload(main.url, 'file_rows', 'ndjson', '{x}\n')).status).toBe(400);
    const after = await request(main.url, '/metrics', { method: 'GET' });
    expect(after.headers['content-type']).toMatch(/^text\/plain/);
    expect(value(after.text, rowsSeries) - value(before.text, rowsSeries)).toBe(7);
    expect(value(after.text, badRowSeries) - value(before.text, badRowSeries)).toBe(1);
    expect(after.text).toMatch(/^powerhouse_ingest_active_uploads 0$/m);
    expect(after.text).toMatch(/^powerhouse_ingest_db_pool_connections\{state="total"\} \d+$/m);
    expect(after.text).toMatch(
      /^powerhouse_ingest_upload_duration_seconds_count\{table="file_rows",outcome="committed"\} \d+$/m,
    );
    expect(after.text).toMatch(/^powerhouse_ingest_bytes_total\{table="file_rows"\} \d+$/m);
  });

  it('/metrics counts every answer: each upload status (refusals before any database work, the in-process 409 and a vanished client included) and every route', async () => {
    // Its own worker (its own registry): the counts start at zero. Two upload slots, a small body limit.
    const w = await stack.startWorker({
      limits: { maxConcurrentUploads: 2, maxConcurrentUploadsPerToken: 2, dbPoolSize: 3, maxBodyBytes: 1000 },
    });
    const metrics = () => scrapeMetrics(w.url);
    try {
      const rows = ndjsonRows(85, 1, 3);
      const get = (path: string, token?: string) => request(w.url, path, { method: 'GET', token });
      expect((await upload(w.url, 'file_rows', 'ndjson', rows, { key: 'count-1' })).status).toBe(201);
      expect((await upload(w.url, 'file_rows', 'ndjson', rows, { key: 'count-1' })).status).toBe(200);
      expect((await upload(w.url, 'file_rows', 'ndjson', rows + rows, { key: 'count-1' })).status).toBe(422);
      expect((await upload(w.url, 'file_rows', 'ndjson', '{x}\n')).status).toBe(400);
      expect((await upload(w.url, 'file_rows', 'ndjson', rows, { columns: '' })).status).toBe(400);
      expect((await upload(w.url, 'file_rows', 'ndjson', rows, { token: 'nope' })).status).toBe(401);
      expect((await upload(w.url, 'file_rows', 'ndjson', rows, { token: TOKENS.tmOnly })).status).toBe(403);
      expect((await upload(w.url, 'no_such_table', 'ndjson', rows)).status).toBe(404);
      const asText = { token: TOKENS.writer, contentType: 'text/plain', body: rows };
      expect((await request(w.url, '/v1/tables/file_rows/uploads', asText)).status).toBe(415);
      const big = 'x'.repeat(2000);
      expect(
        (await upload(w.url, 'file_rows', 'ndjson', big, { headers: { 'Content-Length': '2000' } })).status,
      ).toBe(413);
      expect((await get('/v1/tables/file_rows/uploads', TOKENS.writer)).status).toBe(405);

      // Two uploads hold both slots: the same key again is the in-process 409, a third upload is a 503.
      const first = await holdUpload(w.url, 'file_rows', 'count-held-1', ndjsonRows(86, 1, 2));
      expect((await upload(w.url, 'file_rows', 'ndjson', rows, { key: 'count-held-1' })).status).toBe(409);
      const second = await holdUpload(w.url, 'file_rows', 'count-held-2', ndjsonRows(87, 1, 2), TOKENS.other);
      expect((await upload(w.url, 'file_rows', 'ndjson', rows)).status).toBe(503);
      // One client goes away mid-body; the other finishes.
      second.held.response.catch(() => undefined);
      second.held.req.destroy();
      first.held.req.end(ndjsonRows(86, 3, 4));
      expect((await first.held.response).status).toBe(201);

      expect((await get('/healthz')).status).toBe(200);
      expect((await get('/readyz')).status).toBe(200);
      expect((await get('/v1/tables/file_rows', TOKENS.writer)).status).toBe(200);
      expect((await get('/v1/uploads/not-a-uuid', TOKENS.writer)).status).toBe(404);
      expect((await get('/v1/uploads', TOKENS.writer)).status).toBe(400);
      expect((await get('/v1/admin/pgbouncer')).status).toBe(401);
      expect((await get('/nope')).status).toBe(404);

      const m = await eventually(async () => {
        const now = await metrics();
        return now.get('powerhouse_ingest_uploads_total{table="file_rows",status="aborted"}') === 1
          ? now
          : undefined;
      });
      const uploads = (table: string, status: string) =>
        m.get(`powerhouse_ingest_uploads_total{table="${table}",status="${status}"}`);
      expect(
        Object.fromEntries(
          ['201', '200', '422', '400', '401', '403', '415', '413', '409', '503'].map((s) => [
            s,
            uploads('file_rows', s),
          ]),
        ),
      ).toEqual({ 201: 2, 200: 1, 422: 1, 400: 2, 401: 1, 403: 1, 415: 1, 413: 1, 409: 1, 503: 1 });
      expect(uploads('', '404')).toBe(1); // not an allowlisted name: no table label
      const outcomes = {
        committed: 2,
        replayed: 1,
        idempotency_key_reused: 1,
        bad_row: 1,
        bad_request: 1,
        unauthorized: 1,
        forbidden: 1,
        unsupported_media_type: 1,
        too_large: 1,
        upload_in_progress: 1,
        unavailable: 1,
        client_aborted: 1,
      };
      for (const [outcome, n] of Object.entries(outcomes))
        expect([
          outcome,
          m.get(`powerhouse_ingest_upload_duration_seconds_count{table="file_rows",outcome="${outcome}"}`),
        ]).toEqual([outcome, n]);
      const errors = (kind: string) => m.get(`powerhouse_ingest_errors_total{kind="${kind}"}`);
      expect({
        upload_in_progress: errors('upload_in_progress'),
        unavailable: errors('unavailable'),
        client_aborted: errors('client_aborted'),
        bad_request: errors('bad_request'), // ?columns= and the lookup without a key
        unknown_table: errors('unknown_table'),
        unknown_upload: errors('unknown_upload'),
        method_not_allowed: errors('method_not_allowed'),
        unauthorized: errors('unauthorized'), // the upload and the admin route
        not_found: errors('not_found'),
      }).toEqual({
        upload_in_progress: 1,
        unavailable: 1,
        client_aborted: 1,
        bad_request: 2,
        unknown_table: 1,
        unknown_upload: 1,
        method_not_allowed: 1,
        unauthorized: 2,
        not_found: 1,
      });
      const responses = (route: string, status: string) =>
        m.get(`powerhouse_ingest_http_responses_total{route="${route}",status="${status}"}`);
      expect({
        'upload 201': responses('upload', '201'),
        'upload 409': responses('upload', '409'),
        'upload 405': responses('upload', '405'),
        'upload aborted': responses('upload', 'aborted'),
        healthz: responses('healthz', '200'),
        readyz: responses('readyz', '200'),
        describe: responses('describe', '200'),
        'upload_status 404': responses('upload_status', '404'),
        'upload_lookup 400': responses('upload_lookup', '400'),
        'admin_pgbouncer 401': responses('admin_pgbouncer', '401'),
        'other 404': responses('other', '404'),
      }).toEqual({
        'upload 201': 2,
        'upload 409': 1,
        'upload 405': 1,
        'upload aborted': 1,
        healthz: 1,
        readyz: 1,
        describe: 1,
        'upload_status 404': 1,
        'upload_lookup 400': 1,
        'admin_pgbouncer 401': 1,
        'other 404': 1,
      });
      expect(responses('upload_lookup', '200')).toBeGreaterThan(0); // holdUpload's polling
      // A scrape is counted once it has been answered: the next one shows it.
      const scrapes = 'powerhouse_ingest_http_responses_total{route="metrics",status="200"}';
      expect((await metrics()).get(scrapes)).toBe((m.get(scrapes) ?? 0) + 1);
    } finally {
      await w.close();
    }
  });

  it('opens its upload connections before it listens, uses them without new logins, and reopens them after PgBouncer drops them', async () => {
    // Client connections of workers' upload pools, as PgBouncer sees them (the ops pool has another name).
    const uploadClients = async () => {
      const c = new Client({ connectionString: stack.consoleUrl });
      await c.connect();
      try {
        const rows = (await c.query<{ application_name: string }>('SHOW CLIENTS')).rows;
        return rows.filter((r) => r.application_name === 'powerhouse-ingest').length;
      } finally {
        await c.end();
      }
    };
    const metric = async (url: string, series: string) => {
      const text = (await request(url, '/metrics', { method: 'GET' })).text;
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      if (!line) throw new Error(`no ${series} in /metrics`);
      return Number(line.slice(series.length + 1));
    };
    const total = 'powerhouse_ingest_db_pool_connections{state="total"}';
    const idle = 'powerhouse_ingest_db_pool_connections{state="idle"}';
    const waits = 'powerhouse_ingest_upload_queue_wait_seconds_count';
    // The suite's main worker has its own upload connections (idle during this test).
    const others = async () => metric(main.url, total);
    expect(await uploadClients()).toBe(await others());

    const lazy = await stack.startWorker({ limits: { dbPoolKeepOpen: 0 } });
    try {
      expect(await metric(lazy.url, total)).toBe(0);
      expect(await uploadClients()).toBe(await others());
    } finally {
      await lazy.close();
    }

    const w = await stack.startWorker({ limits: { dbPoolKeepOpen: 3 } });
    try {
      expect(await metric(w.url, total)).toBe(3);
      expect(await metric(w.url, idle)).toBe(3);
      expect(await uploadClients()).toBe((await others()) + 3);
      expect(await metric(w.url, waits)).toBe(0);
      const res = await upload(w.url, 'file_rows', 'ndjson', ndjsonRows(97, 1, 4), { key: 'warm-1' });
      expect(res.status).toBe(201);
      expect(await metric(w.url, waits)).toBe(1);
      expect(await uploadClients()).toBe((await others()) + 3); // the upload used an open connection

      await stack.bouncer.server.restart(); // drops every client connection
      await eventually(async () => ((await metric(w.url, idle)) === 3 ? true : undefined), 1000);
      expect(await metric(w.url, total)).toBe(3);
      await eventually(
        async () => ((await uploadClients()) === (await others()) + 3 ? true : undefined),
        1000,
      );
      const again = await upload(w.url, 'file_rows', 'ndjson', ndjsonRows(98, 1, 4), { key: 'warm-2' });
      expect(again.status).toBe(201);
      expect(await fileCounts(97, 98)).toEqual(
        new Map([
          [97, 4],
          [98, 4],
        ]),
      );
    } finally {
      await w.close();
    }
    await eventually(async () => ((await uploadClients()) === (await others()) ? true : undefined), 1000);
  });

  it('/v1/admin/pgbouncer shows SHOW POOLS and SHOW STATS to the admin token only', async () => {
    const res = await request(main.url, '/v1/admin/pgbouncer', { method: 'GET', token: TOKENS.admin });
    expect(res.status).toBe(200);
    const pools = res.body.pools as Record<string, unknown>[];
    const ingest = pools.find((p) => p.database === INGEST_POOL_DB && p.user === ROLES.ingest);
    expect(ingest).toBeDefined();
    expect(typeof ingest!.sv_idle).toBe('number');
    expect((res.body.stats as Record<string, unknown>[]).some((s) => s.database === INGEST_POOL_DB)).toBe(
      true,
    );
    expect(
      (await request(main.url, '/v1/admin/pgbouncer', { method: 'GET', token: TOKENS.writer })).status,
    ).toBe(403);
    expect((await request(main.url, '/v1/admin/pgbouncer', { method: 'GET' })).status).toBe(401);
    expect((await request(main.url, '/v1/admin/pgbouncer', { method: 'GET', token: 'nope' })).status).toBe(
      401,
    );
  });

  it('logs are JSON with the upload id and never contain a token', async () => {
    const res = await upload(main.url, 'file_rows', 'ndjson', ndjsonRows(90, 1, 2), { key: 'log-1' });
    expect(res.status).toBe(201);
    await upload(main.url, 'file_rows', 'ndjson', '', { token: 'wrong-' + TOKENS.writer });
    await request(main.url, '/v1/admin/pgbouncer', { method: 'GET', token: TOKENS.admin });
    const entries = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.some((e) => e.uploadId === res.body.uploadId && e.msg === 'upload committed')).toBe(true);
    const requestLogs = entries.filter((e) => e.msg === 'request');
    expect(requestLogs.some((e) => e.uploadId === res.body.uploadId && e.status === 201)).toBe(true);
    expect(requestLogs.length).toBeGreaterThanOrEqual(3);
    const authorized = requestLogs.filter(
      (e) => (e.req as { headers: Record<string, unknown> }).headers.authorization !== undefined,
    );
    expect(authorized.length).toBeGreaterThan(0);
    for (const e of authorized)
      expect((e.req as { headers: Record<string, unknown> }).headers.authorization).toBe('[redacted]');
    for (const token of Object.values(TOKENS)) expect(logs.text).not.toContain(token);
    expect(logs.text).not.toContain(new URL(stack.ingestUrl).password);
  });
});

// The client SDK against the real local stack (PostgreSQL 16 + PgBouncer + the worker as a child process, so
// it can be SIGKILLed): what is stored in PostgreSQL after each kind of upload, failure, retry and cancel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { freePort } from '../../stacks/local-processes/free-port';
import {
  describeTable,
  uploadFile,
  uploadRows,
  UploadAbortedError,
  UploadRejectedError,
  UploadRowError,
  UploadUnavailableError,
  type RetryInfo,
  type TableSchema,
  type UploadResult,
} from '../../ingest/client';
import { startClientStack, tmCounts, TM_COLUMNS, uniqueTmRows, type ClientStack } from './client-stack';

jest.setTimeout(120_000);

let s: ClientStack;

beforeAll(async () => {
  s = await startClientStack('child');
});

afterAll(async () => {
  await s?.stop();
});

beforeEach(async () => {
  await s.sql('TRUNCATE tm_entries');
});

async function uploadState(key: string): Promise<{ state?: string; status: number }> {
  const r = await fetch(`${s.url}/v1/uploads?idempotencyKey=${key}`, {
    headers: { Authorization: `Bearer ${s.token}` },
  });
  const body = (await r.json()) as { state?: string };
  return { state: body.state, status: r.status };
}

/** Until the worker is done with the upload under `key` (rolled back or committed). */
async function settled(key: string): Promise<string | undefined> {
  for (let i = 0; i < 200; i++) {
    const { state } = await uploadState(key);
    if (state !== 'receiving' && state !== 'committing') return state;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`upload ${key} still running`);
}

test('describeTable answers the writable columns of tm_entries with their types', async () => {
  const schema = await describeTable(s.url, s.token, 'tm_entries');
  expect(schema.columns.map((c) => [c.name, c.type, c.hasDefault])).toEqual([
    ['tm_id', 'bigint', false],
    ['source', 'text', false],
    ['target', 'text', false],
    ['created_by', 'text', false],
    ['created_at', 'timestamp with time zone', true],
  ]);
});

test('the worker is SIGKILLed mid-upload: the retry (spooled body, same key) stores each row exactly once', async () => {
  const N = 300_000;
  let killedAt = -1;
  let restart: Promise<void> | undefined;
  const retries: RetryInfo[] = [];
  const result = await uploadRows(s.url, s.token, 'tm_entries', uniqueTmRows(N), {
    columns: TM_COLUMNS,
    // Generous: a restarted worker can take long to start on a busy machine.
    retry: { maxAttempts: 100, baseDelayMs: 100, maxDelayMs: 1000 },
    progressIntervalMs: 0,
    onRetry: (r) => retries.push(r),
    onProgress: (p) => {
      if (!restart && p.attempt === 1 && p.rows >= 60_000) {
        killedAt = p.rows;
        restart = s.stack.restartWorker('kill');
      }
    },
  });
  await restart;
  expect(killedAt).toBeGreaterThan(0);
  expect(killedAt).toBeLessThan(N); // the kill came while rows were still streaming
  expect(result.attempts).toBeGreaterThanOrEqual(2);
  expect(retries.length).toBe(result.attempts - 1);
  expect(result.rows).toBe(N);
  expect(await tmCounts(s)).toEqual({ rows: N, distinct: N });
});

test('the same Idempotency-Key again: the server replays the first result and writes nothing', async () => {
  const rows = [...uniqueTmRows(2000)];
  const key = `sdk-replay-${Date.now()}`;
  const first = await uploadRows(s.url, s.token, 'tm_entries', rows, {
    columns: TM_COLUMNS,
    idempotencyKey: key,
  });
  const again = await uploadRows(s.url, s.token, 'tm_entries', rows, {
    columns: TM_COLUMNS,
    idempotencyKey: key,
  });
  expect(first.replayed).toBe(false);
  expect(again).toMatchObject({ replayed: true, uploadId: first.uploadId, rows: 2000 });
  expect(await tmCounts(s)).toEqual({ rows: 2000, distinct: 2000 });
});

test('AbortSignal mid-upload: the call rejects with AbortError, nothing is stored, the spool file is gone', async () => {
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-spool-'));
  const key = `sdk-abort-${Date.now()}`;
  const ac = new AbortController();
  let abortedAt = -1;
  try {
    const upload = uploadRows(s.url, s.token, 'tm_entries', uniqueTmRows(500_000), {
      columns: TM_COLUMNS,
      idempotencyKey: key,
      signal: ac.signal,
      spoolDir,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (abortedAt < 0 && p.rows >= 50_000) {
          abortedAt = p.rows;
          ac.abort();
        }
      },
    });
    const err = await upload.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadAbortedError);
    expect((err as Error).name).toBe('AbortError');
    expect(abortedAt).toBeGreaterThanOrEqual(50_000);
    expect(await settled(key)).toBe('failed');
    expect(await tmCounts(s)).toEqual({ rows: 0, distinct: 0 });
    expect(fs.readdirSync(spoolDir)).toEqual([]);
  } finally {
    fs.rmSync(spoolDir, { recursive: true, force: true });
  }
});

test('an already aborted signal: rejected before anything is sent', async () => {
  const ac = new AbortController();
  ac.abort();
  await expect(
    uploadRows(s.url, s.token, 'tm_entries', [[1, 'a', 'b', null]], {
      columns: TM_COLUMNS,
      signal: ac.signal,
    }),
  ).rejects.toBeInstanceOf(UploadAbortedError);
  expect(await tmCounts(s)).toEqual({ rows: 0, distinct: 0 });
});

test('object rows from an object-mode stream: columns from the first row, missing keys NULL, created_at default', async () => {
  const stream = new PassThrough({ objectMode: true });
  stream.write({ tm_id: 5, source: 'Open', target: 'Öffnen' });
  stream.write({ tm_id: 5, source: 'Close', target: 'Schließen', created_by: undefined });
  stream.end({ tm_id: '9007199254740993', source: 'Big', target: 'Groß' });
  const result = await uploadRows(s.url, s.token, 'tm_entries', stream);
  expect(result.rows).toBe(3);
  const rows = await s.sql<{ tm_id: string; source: string; created_by: string | null; has_ts: boolean }>(
    'SELECT tm_id::text, source, created_by, created_at IS NOT NULL AS has_ts FROM tm_entries ORDER BY id',
  );
  expect(rows).toEqual([
    { tm_id: '5', source: 'Open', created_by: null, has_ts: true },
    { tm_id: '5', source: 'Close', created_by: null, has_ts: true },
    { tm_id: '9007199254740993', source: 'Big', created_by: null, has_ts: true },
  ]);
});

test('a value the encoder refuses: UploadRowError from the client naming row and column; nothing stored', async () => {
  const rows = [
    [1, 'ok', 'ok', null],
    [2, 'ok', 'ok', null],
    ['twelve', 'bad', 'bad', null],
  ];
  const err = await uploadRows(s.url, s.token, 'tm_entries', rows, { columns: TM_COLUMNS }).catch((e) => e);
  expect(err).toBeInstanceOf(UploadRowError);
  expect(err).toMatchObject({ row: 3, column: 'tm_id', source: 'client' });
  expect(err.message).toMatch(/row 3, column "tm_id"/);
  expect(await tmCounts(s)).toEqual({ rows: 0, distinct: 0 });
});

test('a row PostgreSQL refuses (NOT NULL): UploadRowError from the server naming row and column', async () => {
  const rows = [
    [1, 'a', 'b', null],
    [1, 'c', 'd', null],
    [1, null, 'no source', null],
    [1, 'e', 'f', null],
  ];
  const err = await uploadRows(s.url, s.token, 'tm_entries', rows, { columns: TM_COLUMNS }).catch((e) => e);
  expect(err).toBeInstanceOf(UploadRowError);
  expect(err).toMatchObject({ row: 3, column: 'source', source: 'server' });
  expect(await tmCounts(s)).toEqual({ rows: 0, distinct: 0 });
});

test('rows that do not fit the table are refused before anything is sent', async () => {
  await expect(uploadRows(s.url, s.token, 'tm_entries', [{ tm_id: 1, sorce: 'typo' }])).rejects.toThrow(
    /"sorce" is not a writable column of tm_entries/,
  );
  await expect(uploadRows(s.url, s.token, 'tm_entries', [[1, 'a', 'b']])).rejects.toThrow(
    /arrays of 3 values but tm_entries has 5 writable columns.*pass options.columns/,
  );
});

test('wrong token, unknown table: UploadRejectedError with the status and body', async () => {
  const schema: TableSchema = { columns: [{ name: 'tm_id', type: 'bigint' }] };
  const bad = await uploadRows(s.url, 'not-the-token', 'tm_entries', [[1]], { schema }).catch((e) => e);
  expect(bad).toBeInstanceOf(UploadRejectedError);
  expect(bad).toMatchObject({ status: 401, code: 'unauthorized' });
  expect(bad.message).not.toContain(s.token);
  // Answered while a large body is still streaming: the 401 is read, not lost to a write error.
  const streaming = await uploadRows(s.url, 'not-the-token', 'tm_entries', uniqueTmRows(300_000), {
    schema: { columns: TM_COLUMNS.map((name) => ({ name, type: name === 'tm_id' ? 'bigint' : 'text' })) },
    columns: TM_COLUMNS,
  }).catch((e) => e);
  expect(streaming).toMatchObject({ status: 401, code: 'unauthorized' });
  const unknown = await describeTable(s.url, s.token, 'pg_authid').catch((e) => e);
  expect(unknown).toMatchObject({ status: 404, code: 'unknown_table' });
});

test('nothing listening: UploadUnavailableError after the configured attempts, naming the key to retry with', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const retries: RetryInfo[] = [];
  const err = await uploadRows(url, s.token, 'tm_entries', [[1, 'a', 'b', null]], {
    schema: { columns: TM_COLUMNS.map((name) => ({ name, type: name === 'tm_id' ? 'bigint' : 'text' })) },
    idempotencyKey: 'resume-me-1',
    retry: { maxAttempts: 3, baseDelayMs: 10 },
    onRetry: (r) => retries.push(r),
  }).catch((e) => e);
  expect(err).toBeInstanceOf(UploadUnavailableError);
  expect(err).toMatchObject({ attempts: 3, key: 'resume-me-1' });
  expect(err.message).toMatch(/ECONNREFUSED/);
  expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
});

test('503 at the per-token concurrency limit: retried after Retry-After with the same key, then stored once', async () => {
  // Four uploads that stall mid-body hold this token's four slots (those beyond the tier's COPY turns hold theirs
  // queued); the fifth gets 503 + Retry-After.
  const blockers = Array.from({ length: 4 }, (_, i) => {
    const stream = new PassThrough({ objectMode: true });
    for (const r of uniqueTmRows(50, 100 + i)) stream.write(r);
    const key = `sdk-blocker-${i}-${Date.now()}`;
    const done = uploadRows(s.url, s.token, 'tm_entries', stream, {
      columns: TM_COLUMNS,
      chunkBytes: 1024,
      idempotencyKey: key,
    });
    return { stream, key, done };
  });
  for (const b of blockers) {
    for (let i = 0; !['receiving', 'queued'].includes((await uploadState(b.key)).state ?? ''); i++) {
      if (i > 200) throw new Error('blocker upload did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const retries: RetryInfo[] = [];
  const result: UploadResult = await uploadRows(s.url, s.token, 'tm_entries', [...uniqueTmRows(1000, 200)], {
    columns: TM_COLUMNS,
    onRetry: (r) => {
      retries.push(r);
      for (const b of blockers) b.stream.end(); // free the slots while the fifth waits
    },
  });
  const blocked = await Promise.all(blockers.map((b) => b.done));
  expect(retries[0].reason).toMatch(/^HTTP 503 unavailable/);
  expect(retries[0].delayMs).toBeGreaterThanOrEqual(s.stack.config.limits.retryAfterSeconds * 1000);
  expect(result).toMatchObject({ rows: 1000, replayed: false });
  expect(result.attempts).toBe(retries.length + 1);
  expect(blocked.map((b) => b.rows)).toEqual([50, 50, 50, 50]);
  expect(await tmCounts(s)).toEqual({ rows: 1200, distinct: 1200 });
});

describe('uploadFile', () => {
  const rows: [number, string, string, string | null][] = [
    [1, 'Say "hi", please', 'Sag „hallo“, bitte', 'ana'],
    [2, 'two\nlines\tand a tab', 'C:\\Users\\path 🙂', null],
    [3, '', 'مرحبا', 'bo'],
  ];
  const csvField = (v: string | null) => (v === null ? '' : `"${v.replace(/"/g, '""')}"`);
  const tsvField = (v: string | null) =>
    v === null ? '\\N' : v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  const text = {
    csv:
      'tm_id,source,target,created_by\n' +
      rows
        .map((r) => [String(r[0]), ...r.slice(1).map((v) => csvField(v as string | null))].join(','))
        .join('\n') +
      '\n',
    tsv:
      'tm_id\tsource\ttarget\tcreated_by\n' +
      rows
        .map((r) => [String(r[0]), ...r.slice(1).map((v) => tsvField(v as string | null))].join('\t'))
        .join('\n') +
      '\n',
    ndjson:
      rows
        .map((r) => JSON.stringify({ tm_id: r[0], source: r[1], target: r[2], created_by: r[3] }))
        .join('\n') + '\n',
  };
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-files-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['csv', 'local'],
    ['csv', 'server'],
    ['ndjson', 'local'],
    ['ndjson', 'server'],
    ['tsv', 'server'],
  ] as const)('%s, parsed on the %s side: the same values stored', async (format, parse) => {
    const file = path.join(dir, `rows.${format}`);
    fs.writeFileSync(file, text[format]);
    const result = await uploadFile(s.url, s.token, 'tm_entries', file, { parse });
    expect(result.rows).toBe(3);
    const stored = await s.sql<{ tm_id: number; source: string; target: string; created_by: string | null }>(
      'SELECT tm_id::int, source, target, created_by FROM tm_entries ORDER BY tm_id',
    );
    expect(stored.map((r) => [r.tm_id, r.source, r.target, r.created_by])).toEqual(rows);
  });

  test('a CSV file re-opened on retry after the worker is killed mid-upload: stored once', async () => {
    const file = path.join(dir, 'big.csv');
    const out = fs.createWriteStream(file);
    out.write('tm_id,source,target,created_by\n');
    for (const r of uniqueTmRows(200_000)) out.write(`${r[0]},"${r[1]}","${r[2]}",${r[3] ?? ''}\n`);
    await new Promise((resolve) => out.end(resolve));
    let restart: Promise<void> | undefined;
    const result = await uploadFile(s.url, s.token, 'tm_entries', file, {
      // Generous: a restarted worker can take long to start on a busy machine.
      retry: { maxAttempts: 100, baseDelayMs: 100, maxDelayMs: 1000 },
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (!restart && p.attempt === 1 && p.rows >= 40_000) restart = s.stack.restartWorker('kill');
      },
    });
    await restart;
    expect(restart).toBeDefined();
    expect(result.attempts).toBeGreaterThanOrEqual(2);
    expect(await tmCounts(s)).toEqual({ rows: 200_000, distinct: 200_000 });
  });
});

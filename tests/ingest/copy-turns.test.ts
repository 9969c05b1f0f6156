// COPY turns on the real stack (ingest/copy-gate.ts, docs/INGEST-API.md "COPY turns"): with one turn, a second
// bulk upload waits `queued`, holding no database session and reading no body byte, then runs when the first
// commits; a small declared body needs no turn; a queued upload whose client leaves is gone without a trace;
// a wait past copyTurnWaitMs is a 503 with Retry-After that stores nothing, and its retry succeeds; shutting
// down answers the queued ones 503 at once.
import { ROLES } from '../../config-templates/names';
import { stopAllTestServers } from '../harness';
import type { IngestServer } from '../../ingest/server';
import { uploadRows } from '../../ingest/client';
import {
  CT,
  TOKENS,
  eventually,
  openRequest,
  request,
  startIngestStack,
  upload,
  type IngestStack,
  type OpenRequest,
} from './stack';

let stack: IngestStack;
let worker: IngestServer;

const COLUMNS = 'tm_id,source,target';
const tsv = (tmId: number, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `${tmId}\tsource ${from + i}\ttarget ${from + i}\n`).join('');

beforeAll(async () => {
  stack = await startIngestStack();
  worker = await stack.startWorker({
    limits: { maxActiveCopies: 1, copyTurnFreeBytes: 4096, copyTurnWaitMs: 60_000 },
  });
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await stopAllTestServers();
});

/** A chunked TSV upload into tm_entries whose body the test writes; `first` is written at once. */
function open(key: string, first: string, url = worker.url): OpenRequest {
  const held = openRequest(url, `/v1/tables/tm_entries/uploads?columns=${COLUMNS}`, {
    token: TOKENS.writer,
    contentType: CT.tsv,
    headers: { 'Idempotency-Key': key },
  });
  held.req.write(first);
  opened.push(held);
  return held;
}

const statusOf = async (key: string, url = worker.url) =>
  (await request(url, `/v1/uploads?idempotencyKey=${key}`, { method: 'GET', token: TOKENS.writer })).body;

const waitState = (key: string, state: string, url = worker.url) =>
  eventually(async () => {
    const s = await statusOf(key, url);
    return s.state === state ? s : undefined;
  });

const turns = async (url = worker.url) =>
  (await request(url, '/v1/admin/status', { method: 'GET', token: TOKENS.admin })).body.worker as {
    copyTurns: { limit: number; running: number; waiting: number };
    live: { state: string; bytes: number }[];
  };

const rowsOf = async (tmId: number) =>
  Number(
    (
      await stack.sql<{ n: string }>('SELECT count(*) AS n FROM public.tm_entries WHERE tm_id = $1', [tmId])
    )[0].n,
  );

/** Transactions of the ingest role open in PostgreSQL (an upload's BEGIN, then its COPY). */
const openTransactions = async () =>
  (
    await stack.sql<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE usename = $1 AND (state LIKE 'idle in transaction%' OR query ILIKE 'COPY %' AND state = 'active')`,
      [ROLES.ingest],
    )
  )[0].n;

/** Requests a test left open are destroyed after it, so a failed test does not hold the next one's turn. */
const opened: OpenRequest[] = [];
afterEach(() => {
  for (const r of opened.splice(0)) {
    r.response.catch(() => undefined);
    if (!r.req.writableFinished) r.req.destroy();
  }
});

test('a second bulk upload waits queued, reads nothing and opens no transaction, then runs after the first', async () => {
  const a = open('turns-a', tsv(101, 0, 500));
  await eventually(async () => ((await statusOf('turns-a')).rows as number) > 0 || undefined);
  const body = tsv(102, 0, 300);
  const b = open('turns-b', body);
  b.req.end();
  const queued = await waitState('turns-b', 'queued');
  expect(queued.bytes).toBe(0); // its whole body sits in the sockets: not a byte read
  expect((await turns()).copyTurns).toEqual({ limit: 1, running: 1, waiting: 1 });
  expect((await turns()).live.map((u) => u.state).sort()).toEqual(['queued', 'receiving']);
  expect(await openTransactions()).toBe('1'); // only A's
  a.req.end(tsv(101, 500, 500));
  const [ra, rb] = await Promise.all([a.response, b.response]);
  expect([ra.status, ra.body.rows]).toEqual([201, 1000]);
  expect([rb.status, rb.body.rows, rb.body.bytes]).toEqual([201, 300, Buffer.byteLength(body)]);
  expect([await rowsOf(101), await rowsOf(102)]).toEqual([1000, 300]);
  // The status is computed at most once a second: the next reading shows both turns given back.
  await eventually(async () => {
    const t = (await turns()).copyTurns;
    return t.running === 0 && t.waiting === 0 ? t : undefined;
  });
});

test('an upload declaring a small body needs no turn: it commits while a bulk upload holds the only one', async () => {
  const a = open('turns-small-a', tsv(103, 0, 200));
  await waitState('turns-small-a', 'receiving');
  const small = tsv(104, 0, 20);
  expect(Buffer.byteLength(small)).toBeLessThanOrEqual(4096);
  const r = await upload(worker.url, 'tm_entries', 'tsv', small, {
    columns: COLUMNS,
    headers: { 'Content-Length': String(Buffer.byteLength(small)) },
  });
  expect([r.status, r.body.rows]).toEqual([201, 20]);
  expect((await statusOf('turns-small-a')).state).toBe('receiving');
  a.req.end();
  expect((await a.response).status).toBe(201);
  expect(await rowsOf(104)).toBe(20);
});

test('the SDK reads a small upload ahead and declares it: a sync commits at once, a 2 MB upload waits its turn', async () => {
  const a = open('turns-sdk-a', tsv(110, 0, 200));
  await waitState('turns-sdk-a', 'receiving');
  const columns = ['tm_id', 'source', 'target'];
  const sync = await uploadRows(worker.url, TOKENS.writer, 'tm_entries', [[111, 'hello', 'hallo']], {
    columns,
  });
  expect(sync.rows).toBe(1);
  const big = Array.from({ length: 2000 }, (_, i) => [112, `${'x'.repeat(1000)} ${i}`, 'y']);
  const pending = uploadRows(worker.url, TOKENS.writer, 'tm_entries', big, {
    columns,
    idempotencyKey: 'turns-sdk-big',
  });
  await waitState('turns-sdk-big', 'queued');
  a.req.end();
  expect((await a.response).status).toBe(201);
  expect((await pending).rows).toBe(2000);
  expect([await rowsOf(111), await rowsOf(112)]).toEqual([1, 2000]);
});

test('a queued upload whose client leaves is gone: no rows, no record, and the next one gets the turn', async () => {
  const a = open('turns-gone-a', tsv(105, 0, 100));
  await waitState('turns-gone-a', 'receiving');
  const gone = open('turns-gone-b', tsv(106, 0, 100));
  gone.response.catch(() => undefined);
  await waitState('turns-gone-b', 'queued');
  const c = open('turns-gone-c', tsv(107, 0, 100));
  c.req.end();
  await waitState('turns-gone-c', 'queued');
  gone.req.destroy();
  await eventually(async () => ((await turns()).copyTurns.waiting === 1 ? true : undefined));
  a.req.end();
  expect((await a.response).status).toBe(201);
  expect((await c.response).status).toBe(201);
  expect(await rowsOf(106)).toBe(0);
  expect(await rowsOf(107)).toBe(100);
  const records = await stack.sql(`SELECT 1 FROM powerhouse.uploads WHERE idempotency_key = 'turns-gone-b'`);
  expect(records).toHaveLength(0);
});

test('a wait past copyTurnWaitMs is a 503 with Retry-After that stores nothing; the retry commits', async () => {
  const impatient = await stack.startWorker({
    limits: { maxActiveCopies: 1, copyTurnFreeBytes: 0, copyTurnWaitMs: 300 },
  });
  try {
    const a = open('turns-wait-a', tsv(108, 0, 100), impatient.url);
    await waitState('turns-wait-a', 'receiving', impatient.url);
    const body = tsv(109, 0, 50);
    const b = open('turns-wait-b', body, impatient.url);
    b.req.end();
    const refused = await b.response;
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toMatchObject({ error: 'unavailable' });
    expect(refused.body.message).toMatch(
      /^every COPY turn of this worker was busy for \d+ ms \(1 at a time\); nothing was read or stored$/,
    );
    expect(await rowsOf(109)).toBe(0);
    a.req.end();
    expect((await a.response).status).toBe(201);
    const retry = await upload(impatient.url, 'tm_entries', 'tsv', body, {
      columns: COLUMNS,
      key: 'turns-wait-b',
    });
    expect([retry.status, retry.body.rows]).toEqual([201, 50]);
    expect(await rowsOf(109)).toBe(50);
  } finally {
    await impatient.close();
  }
});

test('shutting down answers the queued uploads 503 at once; the running one may still finish in its grace', async () => {
  const leaving = await stack.startWorker({
    limits: { maxActiveCopies: 1, copyTurnFreeBytes: 0, shutdownGraceMs: 30_000 },
  });
  const a = open('turns-stop-a', tsv(113, 0, 100), leaving.url);
  await waitState('turns-stop-a', 'receiving', leaving.url);
  const b = open('turns-stop-b', tsv(114, 0, 100), leaving.url);
  b.req.end();
  await waitState('turns-stop-b', 'queued', leaving.url);
  const closed = leaving.close();
  const refused = await b.response;
  expect([refused.status, refused.body.error, refused.body.message]).toEqual([
    503,
    'unavailable',
    'the worker is shutting down; retry with the same Idempotency-Key',
  ]);
  a.req.end(tsv(113, 100, 100));
  expect([(await a.response).status, (await a.response).body.rows]).toEqual([201, 200]);
  await closed;
  expect([await rowsOf(113), await rowsOf(114)]).toEqual([200, 0]);
});

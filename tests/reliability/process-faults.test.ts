// Processes killed for real in the middle of uploads: the ingest worker (SIGKILL, SIGTERM), PostgreSQL
// (fast and immediate shutdown, SIGKILL) and PgBouncer (SIGKILL, immediate and safe shutdown). After each:
// nothing of the interrupted upload is stored, an upload acknowledged with 201 is still there, the worker
// recovers by itself, and a retry with the same Idempotency-Key stores every row exactly once.
import {
  answered,
  getJson,
  isDropped,
  openUpload,
  sleep,
  startResponseLosingProxy,
  upload,
  uploadUntilAnswered,
  type Outcome,
} from './http-client';
import { Client } from 'pg';
import { countFile, fileRowsNdjson, uploadHalfway } from './file-rows';
import { processAlive, startLiveStack, type LiveStack } from './live-stack';

// Generous: the machine may be shared; no assertion depends on time.
jest.setTimeout(180_000);

const N = 4; // concurrent uploaders of the tier = the worker's limit
const ROWS = 4000; // ~0.5 MB of NDJSON: several 64 KiB COPY chunks reach PostgreSQL before the fault

let live: LiveStack;
let nextFile = 1000;
/** Fault kind → what the interrupted client saw each time (for the report). */
const faults: Record<string, string[]> = {};

beforeAll(async () => {
  live = await startLiveStack({ users: N, extraTokens: 1 });
}, 120_000);

afterAll(async () => {
  await live?.stop();
  // The figures for the closing note (jest prints console output of passing tests with --verbose=false too).
  console.log(
    `process faults injected and survived (client saw/rows stored): ${JSON.stringify(faults, null, 1)}`,
  );
});

function injected(kind: string): void {
  (faults[kind] ??= []).push('no client involved');
}

/** Replaces the last '?' of `kind` with what the client saw, and how many rows that upload left stored. */
function saw(kind: string, o: Outcome, storedRows?: number): void {
  const what = isDropped(o) ? 'dropped' : String(o.status);
  const list = faults[kind];
  list[list.length - 1] = storedRows === undefined ? what : `${what}/${storedRows} rows`;
}

/** The interrupted upload either got 503 with Retry-After or lost its connection; nothing else. */
function expectUnavailableOrDropped(o: Outcome): void {
  if (isDropped(o)) return;
  expect(o.status).toBe(503);
  expect(o.body.error).toBe('unavailable');
  expect(Number(o.headers['retry-after'])).toBeGreaterThan(0);
}

async function waitReady(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await getJson(live.url, '/readyz').catch(() => null);
    if (r?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`/readyz did not return 200: ${r?.text}`);
    await sleep(100);
  }
}

/** Retries the whole upload with the same key until it is answered, expecting exactly `ROWS` rows once. */
async function retryAndExpectExactlyOnce(fileId: number, key: string, rows = ROWS): Promise<void> {
  const body = rows === ROWS ? fileRowsNdjson(fileId, ROWS) : [fileRowsNdjson(fileId, rows).join('')];
  const { result } = await uploadUntilAnswered(() =>
    upload(live.url, 'file_rows', 'ndjson', body, { token: live.token, key }),
  );
  // 201 stores it now; 200 means an earlier attempt committed (its response was lost) and replays it.
  expect([200, 201]).toContain(result.status);
  expect(result.body.rows).toBe(rows);
  expect(await countFile(live, fileId)).toEqual({ rows, distinct: rows });
  // A second retry never writes again.
  const again = answered(await upload(live.url, 'file_rows', 'ndjson', body, { token: live.token, key }));
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ replayed: true, rows });
  expect(await countFile(live, fileId)).toEqual({ rows, distinct: rows });
}

/** An upload acknowledged with 201 right before a fault. */
async function acknowledgedUpload(fileId: number): Promise<void> {
  const r = answered(
    await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(fileId, 50), {
      token: live.token,
      key: `ack-${fileId}`,
    }),
  );
  expect(r.status).toBe(201);
}

describe('the worker is SIGKILLed', () => {
  it('mid-COPY: nothing stored; after restart the retry stores each row exactly once', async () => {
    const fileId = nextFile++;
    const key = `kill-mid-${fileId}`;
    const { u } = await uploadHalfway(live, fileId, ROWS, { key });
    const pid = live.stack.workerPid!;
    await live.stack.restartWorker('kill');
    injected('worker SIGKILL mid-COPY');
    expect(processAlive(pid)).toBe(false);
    const o = await u.outcome;
    saw('worker SIGKILL mid-COPY', o);
    expect(isDropped(o)).toBe(true);
    await live.waitQuiet(); // PgBouncer dropped the server connection: the transaction rolled back
    expect(await countFile(live, fileId)).toEqual({ rows: 0, distinct: 0 });
    await retryAndExpectExactlyOnce(fileId, key);
  });

  // A small upload (one COPY chunk) ends within milliseconds, so kills 0-40 ms after the body ended land
  // before, during and after COMMIT: the client may see nothing although the rows are committed.
  it.each([0, 10, 40])(
    'around COMMIT (+%i ms after the body ended): all rows or none, and the retry settles it exactly once',
    async (delayMs) => {
      const fileId = nextFile++;
      const key = `kill-end-${fileId}`;
      const rows = 200;
      const u = openUpload(live.url, 'file_rows', 'ndjson', { token: live.token, key });
      await u.write(fileRowsNdjson(fileId, rows).join(''));
      u.end();
      await sleep(delayMs);
      await live.stack.restartWorker('kill');
      injected('worker SIGKILL around COMMIT');
      const o = await u.outcome;
      // Whatever the client saw, the database holds all rows or none, and the retry settles it.
      if (!isDropped(o)) expect(o.status).toBe(201);
      const stored = await countFile(live, fileId);
      saw('worker SIGKILL around COMMIT', o, stored.rows);
      expect([0, rows]).toContain(stored.rows);
      if (!isDropped(o)) expect(stored.rows).toBe(rows); // a 201 is durable
      await live.waitQuiet();
      await retryAndExpectExactlyOnce(fileId, key, rows);
    },
  );
});

describe('the response is lost on the way back', () => {
  it('the upload committed although the client saw its connection drop: the retry replays it, rows exactly once', async () => {
    const proxy = await startResponseLosingProxy(live.url);
    try {
      const fileId = nextFile++;
      const key = `lost-response-${fileId}`;
      const o = await upload(proxy.url, 'file_rows', 'ndjson', fileRowsNdjson(fileId, ROWS), {
        token: live.token,
        key,
      });
      injected('response lost after COMMIT');
      saw('response lost after COMMIT', o, (await countFile(live, fileId)).rows);
      expect(isDropped(o)).toBe(true);
      expect(await countFile(live, fileId)).toEqual({ rows: ROWS, distinct: ROWS });
      const replay = answered(
        await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(fileId, ROWS), {
          token: live.token,
          key,
        }),
      );
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ replayed: true, rows: ROWS });
      expect(await countFile(live, fileId)).toEqual({ rows: ROWS, distinct: ROWS });
    } finally {
      await proxy.close();
    }
  });
});

describe('PostgreSQL goes away mid-upload', () => {
  it('ingest sessions commit synchronously (what makes a 201 durable)', async () => {
    const [r] = await live.sql<{ setting: string }>(
      `SELECT coalesce((SELECT split_part(c, '=', 2) FROM pg_db_role_setting s, unnest(s.setconfig) c
                         WHERE c LIKE 'synchronous_commit=%' AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = 'powerhouse_ingest')),
                       current_setting('synchronous_commit')) AS setting`,
    );
    expect(r.setting).toBe('on');
  });

  it('kill() takes every backend down with the postmaster (they setsid() into their own groups), so the restart finds no old shared memory', async () => {
    const sleepers = Array.from({ length: 3 }, async () => {
      const c = new Client({ connectionString: live.stack.superuserUrl });
      c.on('error', () => undefined);
      await c.connect();
      await c.query('SELECT pg_sleep(60)').catch(() => undefined); // ends when its backend is killed
      await c.end().catch(() => undefined);
    });
    let backends: number[] = [];
    for (let i = 0; i < 200 && backends.length < 3; i++) {
      backends = (
        await live.sql<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'`,
        )
      ).map((r) => r.pid);
      await sleep(20);
    }
    expect(backends.length).toBe(3);
    await live.stack.pg.kill();
    injected('PostgreSQL SIGKILL with busy backends');
    expect(backends.filter(processAlive)).toEqual([]);
    await live.stack.pg.restart('fast');
    await Promise.all(sleepers);
    await waitReady();
  });

  it('a 201 is durable: PostgreSQL SIGKILLed the instant the 201 arrives keeps every acknowledged row', async () => {
    // With asynchronous commit the commit record would still sit in WAL buffers (shared memory) when the
    // kill lands a few ms after the 201, and be lost; synchronous_commit makes COMMIT wait for the flush.
    const fileId = nextFile++;
    const { result: r } = await uploadUntilAnswered(() =>
      upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(fileId, 1000), {
        token: live.token,
        key: `durable-${fileId}`,
      }),
    );
    expect(r.status).toBe(201);
    await live.stack.pg.kill(); // no checkpoint, no WAL writer flush: only what COMMIT flushed survives
    injected('PostgreSQL SIGKILL right after a 201');
    saw('PostgreSQL SIGKILL right after a 201', r);
    await live.stack.pg.restart('fast'); // crash recovery from the WAL
    expect(await countFile(live, fileId)).toEqual({ rows: 1000, distinct: 1000 });
    await waitReady();
  });

  it.each(['fast', 'immediate', 'kill'] as const)(
    '%s: 503 or a dropped connection, nothing partial, a 201 from just before survives, the worker recovers and the retry succeeds',
    async (mode) => {
      const acked = nextFile++;
      const fileId = nextFile++;
      const key = `pg-${mode}-${fileId}`;
      await acknowledgedUpload(acked);
      const { u } = await uploadHalfway(live, fileId, ROWS, { key });
      const pgPid = live.stack.pg.pid;
      if (mode === 'kill') {
        await live.stack.pg.kill();
        injected('PostgreSQL SIGKILL mid-COPY');
        await live.stack.pg.restart('fast'); // already down: starts it again (crash recovery)
      } else {
        await live.stack.pg.restart(mode);
        injected(`PostgreSQL ${mode} restart mid-COPY`);
      }
      expect(live.stack.pg.pid).not.toBe(pgPid);
      const o = await u.outcome;
      u.abort();
      saw(mode === 'kill' ? 'PostgreSQL SIGKILL mid-COPY' : `PostgreSQL ${mode} restart mid-COPY`, o);
      expectUnavailableOrDropped(o);
      expect(await countFile(live, fileId)).toEqual({ rows: 0, distinct: 0 });
      expect(await countFile(live, acked)).toEqual({ rows: 50, distinct: 50 });
      await waitReady(); // no restart of the worker: it reconnects through PgBouncer by itself
      await retryAndExpectExactlyOnce(fileId, key);
      await live.waitQuiet();
    },
  );
});

describe('PgBouncer goes away mid-upload', () => {
  it.each(['kill', 'immediate'] as const)(
    '%s: 503 or a dropped connection, nothing stored; after it is back the worker recovers and the retry succeeds',
    async (how) => {
      const acked = nextFile++;
      const fileId = nextFile++;
      const key = `bouncer-${how}-${fileId}`;
      await acknowledgedUpload(acked);
      const { u } = await uploadHalfway(live, fileId, ROWS, { key });
      const bouncer = live.stack.bouncer!;
      if (how === 'kill') await bouncer.kill();
      else {
        process.kill(bouncer.pid, 'SIGTERM'); // PgBouncer's immediate shutdown
        const deadline = Date.now() + 10_000;
        while (bouncer.running && Date.now() < deadline) await sleep(10);
        expect(bouncer.running).toBe(false);
      }
      injected(`PgBouncer ${how} mid-COPY`);
      const o = await u.outcome;
      u.abort();
      saw(`PgBouncer ${how} mid-COPY`, o);
      expectUnavailableOrDropped(o);
      await bouncer.restart();
      expect(await countFile(live, fileId)).toEqual({ rows: 0, distinct: 0 });
      expect(await countFile(live, acked)).toEqual({ rows: 50, distinct: 50 });
      await waitReady();
      await retryAndExpectExactlyOnce(fileId, key);
      await live.waitQuiet();
    },
  );

  it('safe restart (SIGINT) waits for the running upload: it commits, then PgBouncer restarts and serves again', async () => {
    const fileId = nextFile++;
    const key = `bouncer-safe-${fileId}`;
    const { u, rest } = await uploadHalfway(live, fileId, ROWS, { key });
    const bouncer = live.stack.bouncer!;
    const restarting = bouncer.restart();
    injected('PgBouncer safe restart mid-COPY');
    await sleep(200); // PgBouncer is now pausing: it waits for the upload's transaction to end
    for (const piece of rest) await u.write(piece);
    u.end();
    const o = answered(await u.outcome);
    saw('PgBouncer safe restart mid-COPY', o);
    expect(o.status).toBe(201);
    await restarting;
    expect(await countFile(live, fileId)).toEqual({ rows: ROWS, distinct: ROWS });
    await waitReady();
    await retryAndExpectExactlyOnce(fileId, key); // replayed: 200, no second copy
    const after = nextFile++;
    const next = answered(
      await uploadUntilAnswered(() =>
        upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(after, 10), { token: live.token }),
      ).then((r) => r.result),
    );
    expect(next.status).toBe(201);
  });
});

describe('the worker gets SIGTERM with uploads in flight', () => {
  const GRACE_MS = 5000; // long enough for the finishing upload's last 0.25 MB on a busy machine

  beforeAll(async () => {
    await live.reconfigureWorker((c) => ({ ...c, limits: { ...c.limits, shutdownGraceMs: GRACE_MS } }));
  });

  it('an upload that finishes within the grace period commits; one that stalls is aborted and rolled back', async () => {
    const finishing = nextFile++;
    const stalling = nextFile++;
    const a = await uploadHalfway(live, finishing, ROWS, { key: `term-finish-${finishing}` });
    const b = await uploadHalfway(live, stalling, ROWS, { key: `term-stall-${stalling}` }, 2);
    const pid = live.stack.workerPid!;
    const logBefore = live.workerLog().length;
    process.kill(pid, 'SIGTERM');
    injected('worker SIGTERM with 2 uploads in flight');

    // Once it is draining, new uploads are refused (503 saying so, or the listener is already closed); from
    // another token, so that the per-token limit is not what refuses it.
    const draining = Date.now() + 20_000;
    while (!/shutting down: waiting for uploads/.test(live.workerLog().slice(logBefore))) {
      if (Date.now() > draining) throw new Error('the worker never logged that it is draining');
      await sleep(20);
    }
    const late = await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(nextFile++, 5), {
      token: live.stack.tokens[0],
    });
    expectUnavailableOrDropped(late);
    if (!isDropped(late)) expect(String(late.body.message)).toMatch(/shutting down/);

    for (const piece of a.rest) await a.u.write(piece);
    a.u.end();
    const done = answered(await a.u.outcome);
    expect(done.status).toBe(201);

    // b never sends the rest: after the grace period it is aborted.
    const aborted = await b.u.outcome;
    b.u.abort();
    saw('worker SIGTERM with 2 uploads in flight', aborted);
    expectUnavailableOrDropped(aborted);
    const deadline = Date.now() + GRACE_MS + 20_000;
    while (processAlive(pid) && Date.now() < deadline) await sleep(50);
    expect(processAlive(pid)).toBe(false);

    const log = live.workerLog().slice(logBefore);
    expect(log).toMatch(/grace period over: aborting uploads/);
    expect(log).toMatch(/ingest worker stopped/);
    expect(await countFile(live, finishing)).toEqual({ rows: ROWS, distinct: ROWS });
    expect(await countFile(live, stalling)).toEqual({ rows: 0, distinct: 0 });

    await live.stack.restartWorker('graceful'); // starts it again (it has already exited)
    await live.waitQuiet();
    await retryAndExpectExactlyOnce(stalling, `term-stall-${stalling}`);
    await retryAndExpectExactlyOnce(finishing, `term-finish-${finishing}`);
  });
});

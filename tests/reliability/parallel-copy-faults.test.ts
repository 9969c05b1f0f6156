// Faults in the middle of a parallel COPY (ingest/copy-parts): the worker is stopped at a failpoint of the
// commit protocol (before PREPARE, after PREPARE, after the decision, between two COMMIT PREPAREDs), then
// SIGKILLed, or PostgreSQL is restarted under it. After each, every row is stored exactly once or not at all,
// nothing stays prepared, and a retry with the same Idempotency-Key completes.
import { answered, getJson, isDropped, openUpload, sleep, upload, type Outcome } from './http-client';
import { countFile, fileRowsBody, waitForCopyInProgress } from './file-rows';
import { startLiveStack, type LiveStack } from './live-stack';
import type { FailpointName } from '../../ingest/failpoints';

jest.setTimeout(240_000);

const ROWS = 60_000;
const PARTS = 4;
let live: LiveStack;
let nextFile = 7000;
/** Fault → what the interrupted client saw and how many rows were stored after recovery (for the report). */
const seen: Record<string, string> = {};

beforeAll(async () => {
  live = await startLiveStack({ users: 4, cores: 8 });
  // Parts every 128 KiB; the worker looks for orphaned parts every second (30 s by default).
  await live.reconfigureWorker((c) => ({
    ...c,
    limits: { ...c.limits, parallelCopyPartBytes: 128 * 1024, preparedPartsCheckMs: 1000 },
  }));
}, 120_000);

afterAll(async () => {
  delete process.env.POWERHOUSE_FAILPOINTS;
  if (process.env.DEBUG_PARTS)
    console.log(
      live
        .workerLog()
        .split('\n')
        .filter((l) => /"level":[4-6]/.test(l))
        .join('\n'),
    );
  await live?.stop();
  console.log(`parallel COPY faults (client saw / rows after recovery): ${JSON.stringify(seen, null, 1)}`);
});

const preparedOf = async (uploadId?: string) =>
  (
    await live.sql<{ gid: string }>(`SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1 ORDER BY gid`, [
      uploadId ? `ph:${uploadId}:%` : 'ph:%',
    ])
  ).map((r) => r.gid);

async function waitReady(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await getJson(live.url, '/readyz').catch(() => null);
    if (r?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`/readyz did not return 200: ${r?.text}`);
    await sleep(100);
  }
}

/** Waits until the worker's log shows it stopped at `name` for the n-th time; returns that upload's id. */
async function atFailpoint(name: FailpointName, n: number): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const hits = live
      .workerLog()
      .split('\n')
      .filter((l) => l.includes(`"failpoint":"${name}"`));
    if (hits.length >= n) return (JSON.parse(hits[n - 1]) as { uploadId: string }).uploadId;
    if (Date.now() > deadline) throw new Error(`the worker never reached failpoint ${name}`);
    await sleep(20);
  }
}

const hitsOf: Partial<Record<FailpointName, number>> = {};

/** Starts a 4-part upload on a worker armed with `name`, and returns once the worker stopped there. */
async function uploadToFailpoint(name: FailpointName, fileId: number, key: string) {
  process.env.POWERHOUSE_FAILPOINTS = name;
  await live.stack.restartWorker('graceful');
  delete process.env.POWERHOUSE_FAILPOINTS; // the next start of the worker runs without it
  const { pieces } = fileRowsBody('ndjson', fileId, ROWS);
  const u = openUpload(live.url, 'file_rows', 'ndjson', { token: live.token, key });
  const third = Math.ceil(pieces.length / 3);
  for (let i = 0; i < pieces.length && !u.settled; i++) {
    if (i === third) await waitForCopyInProgress(live, { copies: PARTS });
    await u.write(pieces[i]);
  }
  u.end();
  hitsOf[name] = (hitsOf[name] ?? 0) + 1;
  const uploadId = await atFailpoint(name, hitsOf[name]);
  return { outcome: u.outcome, uploadId, pieces };
}

/** The retry with the same key: 201 if nothing was stored, 200 (replay) if the decision was; then exactly once. */
async function retry(fileId: number, key: string, pieces: Buffer[], expectStatus: 200 | 201): Promise<void> {
  const r = answered(await upload(live.url, 'file_rows', 'ndjson', pieces, { token: live.token, key }));
  expect({ status: r.status, rows: r.body.rows }).toEqual({ status: expectStatus, rows: ROWS });
  expect(await countFile(live, fileId)).toEqual({ rows: ROWS, distinct: ROWS });
  expect(await preparedOf()).toEqual([]);
}

const what = (o: Outcome) => (isDropped(o) ? 'dropped' : String(o.status));

describe.each<[FailpointName, string, number, boolean]>([
  // failpoint, where, parts prepared there, decision made
  ['parts-copied', 'before PREPARE', 0, false],
  ['parts-prepared', 'after PREPARE', PARTS - 1, false],
  ['parts-decided', 'after the decision', PARTS - 1, true],
  ['parts-between-commits', 'between two COMMIT PREPAREDs', PARTS - 2, true],
])('worker SIGKILLed at %s (%s)', (name, where, preparedThere, decided) => {
  it(`${decided ? 'all rows' : 'no row'} stored after its restart, nothing left prepared, the retry completes`, async () => {
    const fileId = nextFile++;
    const key = `fault-${name}-${fileId}`;
    const { outcome, uploadId, pieces } = await uploadToFailpoint(name, fileId, key);
    // After the decision the parts lock is free: a resolver could finish the parts. This worker's own timer
    // (every second here) leaves them to the stopped upload, which is still live in it: wait past one round.
    if (decided) await sleep(1500);
    // Where the protocol stands at the failpoint, as PostgreSQL sees it.
    expect(await preparedOf(uploadId)).toHaveLength(preparedThere);
    const [rec] = await live.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM powerhouse.uploads WHERE upload_id = $1 AND status = 'committed'`,
      [uploadId],
    );
    expect(rec.n).toBe(decided ? 1 : 0);

    await live.stack.restartWorker('kill'); // SIGKILL; the new worker resolves what was left at its start
    const o = await outcome;
    expect(isDropped(o)).toBe(true);
    await waitReady();
    expect(await preparedOf()).toEqual([]);
    const stored = await countFile(live, fileId);
    expect(stored).toEqual(decided ? { rows: ROWS, distinct: ROWS } : { rows: 0, distinct: 0 });
    seen[`SIGKILL ${where}`] = `${what(o)} / ${stored.rows}`;
    await retry(fileId, key, pieces, decided ? 200 : 201);
    await live.waitQuiet();
  });
});

/** Waits until no part is prepared any more (the worker's timer resolves them); returns how long it took. */
async function untilNothingPrepared(): Promise<number> {
  const t0 = Date.now();
  while ((await preparedOf()).length > 0) {
    if (Date.now() - t0 > 60_000) throw new Error(`still prepared: ${JSON.stringify(await preparedOf())}`);
    await sleep(200);
  }
  return Date.now() - t0;
}

// After a restart PgBouncer refuses server logins for server_login_retry; what the worker cannot do at once,
// its timer does once PostgreSQL is reachable again.
describe.each<[FailpointName, string, boolean]>([
  ['parts-prepared', 'after PREPARE', false],
  ['parts-decided', 'after the decision', true],
])('PostgreSQL restarted at %s (%s)', (name, where, decided) => {
  it(`the worker goes on: ${decided ? 'all rows stored' : 'no row stored (503)'}, nothing left prepared, the retry completes`, async () => {
    const fileId = nextFile++;
    const key = `pg-restart-${name}-${fileId}`;
    const { outcome, uploadId, pieces } = await uploadToFailpoint(name, fileId, key);
    expect(await preparedOf(uploadId)).toHaveLength(PARTS - 1);
    await live.stack.pg.restart('fast'); // every connection is cut; prepared transactions survive it
    expect(await preparedOf(uploadId)).toHaveLength(PARTS - 1);
    process.kill(live.stack.workerPid!, 'SIGUSR2'); // resume the upload
    const o = answered(await outcome);
    if (decided) {
      // Stored: 201 when the worker could commit the parts on a new connection at once, else 503 saying so.
      expect([201, 503]).toContain(o.status);
      if (o.status === 503) expect(String(o.body.message)).toMatch(/the upload is stored/);
    } else {
      expect(o.status).toBe(503);
      expect(o.body.error).toBe('unavailable');
    }
    const waited = await untilNothingPrepared();
    const stored = await countFile(live, fileId);
    expect(stored).toEqual(decided ? { rows: ROWS, distinct: ROWS } : { rows: 0, distinct: 0 });
    seen[`PostgreSQL restart ${where}`] =
      `${o.status} / ${stored.rows} (resolved ${waited} ms after the answer)`;
    await waitReady();
    await retry(fileId, key, pieces, decided ? 200 : 201);
    await live.waitQuiet();
  });
});

// Parallel COPY of one upload (ingest/copy-parts) on the real stack: a tier with 8 cores splits a keyed upload
// over up to 4 COPYs, each extra one ended with PREPARE TRANSACTION, the upload record committed as the
// decision, then COMMIT PREPARED. Every format keeps each row exactly once; a bad row in any part is a 400
// naming the row the client sent, with nothing stored and nothing left prepared.
import { answered, openUpload, upload, type Format, type UploadOptions } from '../reliability/http-client';
import { countFile, fileRowsBody, fileRowsNdjson, waitForCopyInProgress } from '../reliability/file-rows';
import { startLiveStack, type LiveStack } from '../reliability/live-stack';

jest.setTimeout(240_000);

const ROWS = 60_000;
let live: LiveStack;
let nextFile = 5000;

beforeAll(async () => {
  live = await startLiveStack({ users: 4, cores: 8 });
  // Parts every 128 KiB of COPY data, so a few MB of rows use all four.
  await live.reconfigureWorker((c) => ({ ...c, limits: { ...c.limits, parallelCopyPartBytes: 128 * 1024 } }));
}, 120_000);

afterAll(async () => {
  if (process.env.DEBUG_PARTS)
    console.log(
      live
        .workerLog()
        .split('\n')
        .filter((l) => /part|failpoint/i.test(l))
        .join('\n'),
    );
  await live?.stop();
  console.log(`parallel COPY: parts used per format: ${JSON.stringify(partsSeen)}`);
});

const prepared = async () =>
  (await live.sql<{ gid: string }>(`SELECT gid FROM pg_prepared_xacts WHERE gid LIKE 'ph:%'`)).map(
    (r) => r.gid,
  );

const record = async (uploadId: string) =>
  (
    await live.sql<{ parts: number; rows: string; status: string }>(
      'SELECT parts, rows, status FROM powerhouse.uploads WHERE upload_id = $1',
      [uploadId],
    )
  )[0];

test('the tier turns it on: max_prepared_transactions from the cores', async () => {
  const [row] = await live.sql<{ setting: string }>(
    `SELECT setting FROM pg_settings WHERE name = 'max_prepared_transactions'`,
  );
  expect(Number(row.setting)).toBe(16);
  expect(live.workerLog()).not.toMatch(/parallel COPY is off/);
});

// Rows per format: a few MB of COPY data each (pgcopy rows are 22 bytes), so parts open while the body streams.
const ROWS_OF: Record<Format, number> = { ndjson: ROWS, csv: ROWS, tsv: 150_000, pgcopy: 300_000 };
const partsSeen: Record<string, number> = {};

/**
 * Sends a third of the body, waits until PostgreSQL runs `copies` COPYs of the upload (parts open one after the
 * other once the data passed their share), then the rest: every part gets rows, whatever the machine's speed.
 */
async function splitInto(copies: number, format: Format, pieces: Buffer[], opts: UploadOptions) {
  const u = openUpload(live.url, 'file_rows', format, opts);
  const third = Math.ceil(pieces.length / 3);
  for (let i = 0; i < pieces.length && !u.settled; i++) {
    if (i === third) await waitForCopyInProgress(live, { copies });
    await u.write(pieces[i]);
  }
  u.end();
  return answered(await u.outcome);
}

test.each<Format>(['ndjson', 'csv', 'tsv', 'pgcopy'])(
  '%s: one upload over several COPYs stores every row exactly once; the replay answers the same',
  async (format) => {
    const fileId = nextFile++;
    const n = ROWS_OF[format];
    const { pieces, columns } = fileRowsBody(format, fileId, n);
    const key = `parallel-${format}-${fileId}`;
    const r = await splitInto(4, format, pieces, { token: live.token, key, columns });
    expect({ status: r.status, rows: r.body.rows }).toEqual({ status: 201, rows: n });
    const rec = await record(String(r.body.uploadId));
    partsSeen[format] = rec.parts;
    // Parts open one at a time while the body streams (each takes a pool connection and two round trips).
    expect(rec).toEqual({ parts: 4, rows: String(n), status: 'committed' });
    expect(await countFile(live, fileId)).toEqual({ rows: n, distinct: n });
    expect(await prepared()).toEqual([]);
    const again = answered(
      await upload(live.url, 'file_rows', format, pieces, { token: live.token, key, columns }),
    );
    expect(again.body).toMatchObject({ replayed: true, rows: n, uploadId: r.body.uploadId });
    expect(await countFile(live, fileId)).toEqual({ rows: n, distinct: n });
  },
);

test('a row PostgreSQL refuses in a later part: 400 naming the row sent, nothing stored, nothing prepared', async () => {
  const fileId = nextFile++;
  const bad = 50_001;
  const pieces = fileRowsNdjson(fileId, ROWS).map((p) =>
    // row_num 50 001 gets a NULL file_id: the NOT NULL constraint, checked by PostgreSQL in whichever part has it.
    p.replace(`{"file_id":${fileId},"row_num":${bad},`, `{"file_id":null,"row_num":${bad},`),
  );
  const r = answered(
    await upload(live.url, 'file_rows', 'ndjson', pieces, { token: live.token, key: `bad-${fileId}` }),
  );
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ error: 'bad_row', row: bad, column: 'file_id' });
  expect(String(r.body.message)).toMatch(new RegExp(`^row ${bad}, column "file_id": null value`));
  expect(await countFile(live, fileId)).toEqual({ rows: 0, distinct: 0 });
  expect(await prepared()).toEqual([]);
  await live.waitQuiet();
});

test('no split without an Idempotency-Key, or below the part size', async () => {
  const a = nextFile++;
  const noKey = answered(
    await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(a, ROWS), { token: live.token }),
  );
  expect(noKey.status).toBe(201);
  expect((await record(String(noKey.body.uploadId))).parts).toBe(1);
  const b = nextFile++;
  const small = answered(
    await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(b, 500), {
      token: live.token,
      key: `small-${b}`,
    }),
  );
  expect(small.status).toBe(201);
  expect((await record(String(small.body.uploadId))).parts).toBe(1);
  expect(await countFile(live, a)).toEqual({ rows: ROWS, distinct: ROWS });
});

test('the current load decides: no part opens while uploads + parts hold every COPY turn (maxActiveCopies)', async () => {
  await live.reconfigureWorker((c) => ({
    ...c,
    limits: { ...c.limits, maxActiveCopies: 2, parallelCopyPartBytes: 1024 * 1024 },
  }));
  try {
    // Another upload holds the second backend (it stays open, with a COPY running, until the big one is done):
    // 2 uploads + 0 parts = the limit, so the big one is never split, however large.
    const held = nextFile++;
    const heldBody = fileRowsBody('ndjson', held, 3000).pieces;
    const h = openUpload(live.url, 'file_rows', 'ndjson', { token: live.token, key: `held-${held}` });
    for (const piece of heldBody.slice(0, 5)) await h.write(piece);
    await waitForCopyInProgress(live, { copies: 1 });
    const big = nextFile++;
    const r1 = answered(
      await upload(live.url, 'file_rows', 'ndjson', fileRowsBody('ndjson', big, ROWS).pieces, {
        token: live.token,
        key: `big-${big}`,
      }),
    );
    expect(r1.status).toBe(201);
    expect((await record(String(r1.body.uploadId))).parts).toBe(1);
    expect(await countFile(live, big)).toEqual({ rows: ROWS, distinct: ROWS });
    for (const piece of heldBody.slice(5)) await h.write(piece);
    h.end();
    expect(answered(await h.outcome).status).toBe(201);
    // Alone, the same upload takes the one backend left: 2 parts.
    const alone = nextFile++;
    const r = await splitInto(2, 'ndjson', fileRowsBody('ndjson', alone, ROWS).pieces, {
      token: live.token,
      key: `alone-${alone}`,
    });
    expect((await record(String(r.body.uploadId))).parts).toBe(2);
  } finally {
    await live.reconfigureWorker((c) => ({
      ...c,
      limits: { ...c.limits, maxActiveCopies: 8, parallelCopyPartBytes: 128 * 1024 },
    }));
  }
});

// Property-based tests through the HTTP endpoint, end to end into PostgreSQL: random rows in every format
// (cut into random HTTP chunks) come back byte-exact from SELECT; random byte soup and randomly mutated valid
// bodies never crash the worker, never store part of an upload, and get 400/413 (with a plausible row
// number when there is one) unless they happen to be a valid upload, which is then stored whole.
import fc from 'fast-check';
import { ROLES } from '../../config-templates';
import { answered, getJson, openUpload, sleep, type Format, type HttpResult } from './http-client';
import { processAlive, startLiveStack, type LiveStack } from './live-stack';
import { RT_COLUMNS, RT_TABLE_SQL, encodeRows, splitAt, type Json, type RtRow } from './row-formats';

jest.setTimeout(240_000);

let live: LiveStack;
let workerPid: number;
let nextRun = 1n;
const tried = { roundTrip: 0, roundTripRows: 0, soup: 0, mutated: 0, mutatedStored: 0 };

beforeAll(async () => {
  live = await startLiveStack({ users: 4 });
  await live.addTables(RT_TABLE_SQL(ROLES.ingest), [{ schema: 'public', table: 'rt_rows' }]);
  workerPid = live.stack.workerPid!;
}, 120_000);

afterAll(async () => {
  // Every input went to the same worker process: it never crashed or restarted.
  if (live) expect(processAlive(workerPid)).toBe(true);
  expect(live?.workerLog()).not.toMatch(/request handler failed/);
  await live?.stop();
  console.log(`input properties: ${JSON.stringify(tried)}`);
});

// --- Generators.

/** Characters that break naive CSV/TSV/JSON handling, mixed into arbitrary Unicode (no NUL: text cannot hold it). */
const SPECIALS = [
  '\t',
  '\n',
  '\r',
  '\r\n',
  '\\',
  '\\N',
  '\\.',
  '"',
  '""',
  ',',
  "'",
  '\ufeff',
  'é',
  '😀',
  '\u2028',
  ' ',
  '\u0001',
  'NULL',
];
const text = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({ unit: fc.constantFrom(...SPECIALS), maxLength: 12 }),
    fc.string({
      unit: fc.oneof(fc.constantFrom(...SPECIALS), fc.string({ unit: 'grapheme', maxLength: 1 })),
      maxLength: 20,
    }),
  )
  .map((s) => s.replace(/\0/g, ''));
const jsonValue: fc.Arbitrary<Json> = fc
  .jsonValue({ maxDepth: 3 })
  .filter((v) => v !== null && !JSON.stringify(v).includes('\\u0000')) as fc.Arbitrary<Json>;

function rowArb(run: bigint): fc.Arbitrary<Omit<RtRow, 'seq'>> {
  return fc.record({
    run: fc.constant(run),
    t: fc.option(text, { nil: null, freq: 5 }),
    t2: fc.option(text, { nil: null, freq: 5 }),
    big: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: null }),
    f: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
    ok: fc.option(fc.boolean(), { nil: null }),
    u: fc.option(fc.uuid(), { nil: null }),
    j: fc.option(jsonValue, { nil: null }),
  });
}

const rowsArb = fc
  .array(rowArb(0n), { minLength: 1, maxLength: 15 })
  .map((rows) => rows.map((r, i) => ({ ...r, seq: i + 1 })));
const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 });

interface Variant {
  format: Format;
  header?: boolean;
  crlf?: boolean;
}
const VARIANTS: Variant[] = [
  { format: 'ndjson' },
  { format: 'ndjson', crlf: true },
  { format: 'csv', header: true, crlf: true },
  { format: 'csv', header: false },
  { format: 'tsv', header: true },
  { format: 'tsv', header: false },
  { format: 'pgcopy' },
];

// --- Helpers.

interface DbRow {
  seq: number;
  t: string | null;
  t2: string | null;
  big: string | null;
  f: number | null;
  ok: boolean | null;
  u: string | null;
  j: Json | null;
}

async function storedRun(run: bigint): Promise<DbRow[]> {
  return live.sql<DbRow>(
    'SELECT seq, t, t2, big::text AS big, f, ok, u::text AS u, j FROM rt_rows WHERE run = $1 ORDER BY seq',
    [run.toString()],
  );
}

async function tableCount(): Promise<number> {
  const [r] = await live.sql<{ n: number }>('SELECT count(*)::int AS n FROM rt_rows');
  return r.n;
}

/** Sends the body as separate HTTP chunks with a pause between, so the worker reads them separately. */
async function send(format: Format, pieces: Buffer[], columns?: string): Promise<HttpResult> {
  const u = openUpload(live.url, 'rt_rows', format, { token: live.token, columns });
  for (const [i, p] of pieces.entries()) {
    if (u.settled) break;
    if (i > 0) await sleep(1);
    await u.write(p);
  }
  u.end();
  return answered(await u.outcome);
}

function expectSameRows(stored: DbRow[], sent: RtRow[]): void {
  expect(stored.map((r) => r.seq)).toEqual(sent.map((r) => r.seq));
  stored.forEach((got, i) => {
    const want = sent[i];
    const where = `row ${want.seq}`;
    expect({ where, t: got.t }).toEqual({ where, t: want.t });
    expect({ where, t2: got.t2 }).toEqual({ where, t2: want.t2 });
    expect({ where, big: got.big }).toEqual({ where, big: want.big === null ? null : want.big.toString() });
    expect({ where, fIs: Object.is(got.f, want.f), f: got.f }).toEqual({ where, fIs: true, f: want.f });
    expect({ where, ok: got.ok }).toEqual({ where, ok: want.ok });
    expect({ where, u: got.u }).toEqual({ where, u: want.u === null ? null : want.u.toLowerCase() });
    expect({ where, j: got.j }).toEqual({
      where,
      j: want.j === null ? null : JSON.parse(JSON.stringify(want.j)),
    });
  });
}

describe('random rows round-trip byte-exact: upload → SELECT', () => {
  it.each(VARIANTS)('%o', async (variant) => {
    await fc.assert(
      fc.asyncProperty(rowsArb, cutsArb, async (generated, cuts) => {
        const run = nextRun++;
        const rows = generated.map((r) => ({ ...r, run }));
        const { body, columns } = encodeRows(variant.format, rows, variant);
        const pieces = splitAt(
          body,
          cuts.map((c) => Math.floor(c * body.length)),
        );
        const res = await send(variant.format, pieces, columns);
        tried.roundTrip++;
        tried.roundTripRows += rows.length;
        expect({ status: res.status, body: res.body }).toMatchObject({
          status: 201,
          body: { rows: rows.length },
        });
        expectSameRows(await storedRun(run), rows);
      }),
      { numRuns: 50 },
    );
  });
});

describe('random byte soup', () => {
  /** The answer to garbage: 400/413 (a plausible row when there is one), or a 201 that stored nothing. */
  function expectRejected(res: HttpResult, body: Buffer, format: Format): void {
    if (res.status === 201) {
      expect(res.body.rows).toBe(0);
      return;
    }
    expect([400, 413]).toContain(res.status);
    expect(typeof res.body.message === 'string' || res.status === 413).toBe(true);
    if (res.body.error === 'bad_row') {
      const row = res.body.row as number;
      expect(Number.isInteger(row) && row >= 1).toBe(true);
      const bound = format === 'pgcopy' ? body.length / 2 : body.filter((b) => b === 0x0a).length + 1;
      expect(row).toBeLessThanOrEqual(bound);
      if (res.body.column !== undefined) expect(RT_COLUMNS).toContain(res.body.column);
    } else if (res.status === 400) {
      expect(res.body.error).toBe('bad_request');
    }
  }

  it.each(['ndjson', 'csv', 'tsv', 'pgcopy'] as const)(
    '%s: never crashes, never stores, always 400/413',
    async (format) => {
      const before = await tableCount();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 3000 }),
            // Soup that starts like the format, so it gets past the first checks.
            fc
              .uint8Array({ maxLength: 3000 })
              .map((b) => Buffer.concat([encodeRows(format, [], { header: true }).body, Buffer.from(b)])),
          ),
          fc.boolean(),
          async (bytes, withColumns) => {
            const body = Buffer.from(bytes);
            const res = await send(
              format,
              [body],
              withColumns || format === 'pgcopy' ? RT_COLUMNS.join(',') : undefined,
            );
            tried.soup++;
            expectRejected(res, body, format);
          },
        ),
        { numRuns: 80 },
      );
      expect(await tableCount()).toBe(before);
    },
  );
});

describe('valid bodies with random damage (flipped, inserted, deleted, duplicated bytes, truncation)', () => {
  const damage = fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      len: fc.integer({ min: 1, max: 16 }),
    }),
    fc.record({
      kind: fc.constant('duplicate' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      len: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  );
  type Damage = typeof damage extends fc.Arbitrary<infer D> ? D : never;

  function applyDamage(body: Buffer, d: Damage): Buffer {
    const at = Math.min(body.length, Math.floor(d.at * body.length));
    switch (d.kind) {
      case 'flip': {
        const b = Buffer.from(body);
        if (at < b.length) b[at] = d.byte;
        return b;
      }
      case 'insert':
        return Buffer.concat([body.subarray(0, at), Buffer.from(d.bytes), body.subarray(at)]);
      case 'delete':
        return Buffer.concat([body.subarray(0, at), body.subarray(at + d.len)]);
      case 'duplicate':
        return Buffer.concat([body.subarray(0, at + d.len), body.subarray(at)]);
      case 'truncate':
        return body.subarray(0, at);
    }
  }

  it.each(VARIANTS)('%o: all rows or none; 201 stores exactly what it reports', async (variant) => {
    await fc.assert(
      fc.asyncProperty(
        rowsArb,
        fc.array(damage, { minLength: 1, maxLength: 3 }),
        async (generated, damages) => {
          const run = nextRun++;
          const rows = generated.map((r) => ({ ...r, run }));
          const { body: clean, columns } = encodeRows(variant.format, rows, variant);
          const body = damages.reduce(applyDamage, clean);
          const before = await tableCount();
          const res = await send(variant.format, [body], columns);
          tried.mutated++;
          const stored = (await tableCount()) - before;
          expect([201, 400, 413]).toContain(res.status);
          if (res.status === 201) {
            tried.mutatedStored++;
            expect(stored).toBe(res.body.rows);
          } else {
            expect(stored).toBe(0);
            if (res.body.error === 'bad_row') expect(res.body.row).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('the worker is still the same process, healthy, and its pool idle', async () => {
    expect(live.stack.workerPid).toBe(workerPid);
    expect((await getJson(live.url, '/healthz')).status).toBe(200);
    await live.waitQuiet();
  });
});

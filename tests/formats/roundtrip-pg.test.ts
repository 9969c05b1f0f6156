// Round trips through real PostgreSQL 16: random rows of every supported type (plus numeric and text[],
// which take the text COPY path) are encoded by our code in each upload format, loaded with COPY FROM STDIN
// (pg-copy-streams), and read back: text byte-exact, numbers exact, instants to the microsecond. Our binary
// bytes are also compared with PostgreSQL's own COPY TO (FORMAT binary) output for the same rows, and real
// COPY errors are mapped back to rows and columns.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import {
  type ColumnInfo,
  type UploadFormat,
  copyStatement,
  createCopyEncoder,
  encodePgCopy,
  mapCopyError,
  RowError,
} from '../../ingest/formats';
import { startTestPostgres, stopAllTestServers, type TestPostgres } from '../harness';
import { OID, col } from './helpers/columns';
import { NASTY_STRINGS } from './helpers/corpus';
import { csvField, escapeText } from './helpers/copy-decode';

jest.setTimeout(180_000);

const EPOCH_2000_US = BigInt(Date.UTC(2000, 0, 1)) * 1000n;
const TABLE = { schema: 'public', name: 'round "trip"' };
const TABLE_SQL = 'public."round ""trip"""';

const ALL: ColumnInfo[] = [
  col('rid', 'integer', OID.int4),
  col('t', 'text', OID.text),
  col('v', 'character varying(200000)', OID.varchar),
  col('i2', 'smallint', OID.int2),
  col('i4', 'integer', OID.int4),
  col('i8', 'bigint', OID.int8),
  col('f4', 'real', OID.float4),
  col('f8', 'double precision', OID.float8),
  col('b', 'boolean', OID.bool),
  col('u', 'uuid', OID.uuid),
  col('d', 'date', OID.date),
  col('ts', 'timestamp without time zone', OID.timestamp),
  col('tz', 'timestamp with time zone', OID.timestamptz),
  col('j', 'json', OID.json),
  col('jb', 'jsonb', OID.jsonb),
  col('num', 'numeric', OID.numeric),
  col('arr', 'text[]', OID._text),
];
const BINARY = ALL.slice(0, 15);
/** CSV follows PostgreSQL's input rules: date/time columns go to the server as text (DateStyle, TimeZone). */
const CSV_BINARY = BINARY.filter((c) => !['d', 'ts', 'tz'].includes(c.name));

const DDL = `CREATE TABLE public."round ""trip""" (
  rid int4 PRIMARY KEY, t text, v varchar(200000), i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, b bool,
  u uuid, d date, ts timestamp, tz timestamptz, j json, jb jsonb, num numeric, arr text[])`;

const pgText = fc
  .oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom(...NASTY_STRINGS))
  .filter((s) => !s.includes('\0') && (s as string & { isWellFormed(): boolean }).isWellFormed());
// 0001-01-01 .. 9999-12-31 in microseconds since 2000; 16 h inside for timestamptz so that its local time
// (UTC + offset, up to 15:59) stays within 4-digit years too.
const micros = fc.bigInt({ min: -63082281600000000n, max: 252455615999999999n });
const tzMicros = fc.bigInt({
  min: -63082281600000000n + 57600000000n,
  max: 252455615999999999n - 57600000000n,
});
const offsetMin = fc.integer({ min: -15 * 60 - 59, max: 15 * 60 + 59 });
const decimal = fc
  .tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 12 }))
  .map(([m, scale]) => {
    const neg = m < 0n;
    const digits = (neg ? -m : m).toString().padStart(scale + 1, '0');
    const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    return (neg ? '-' : '') + text;
  });

const rowArb = fc.record({
  t: fc.option(pgText),
  v: fc.option(pgText),
  i2: fc.option(fc.integer({ min: -32768, max: 32767 })),
  i4: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  i8: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
  f4: fc.option(fc.float()),
  f8: fc.option(fc.double()),
  b: fc.option(fc.boolean()),
  u: fc.option(fc.uuid()),
  d: fc.option(fc.integer({ min: -730119, max: 2921939 })),
  ts: fc.option(micros),
  tz: fc.option(fc.tuple(tzMicros, offsetMin)),
  // Top-level JSON null is SQL NULL in NDJSON (documented), so only non-null JSON values here.
  j: fc.option(fc.json().filter((t) => t !== 'null')),
  jb: fc.option(fc.jsonValue().filter((v) => v !== null)),
  num: fc.option(decimal),
  arr: fc.option(fc.array(fc.option(pgText), { maxLength: 5 })),
});
type Row = ReturnType<typeof rowArb.generate>['value'] & { rid: number };

// --- value text in each representation ------------------------------------------------------------

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function isoDate(days: number): string {
  return new Date(Date.UTC(2000, 0, 1) + days * 86400000).toISOString().slice(0, 10);
}

/** ISO local time of micros since 2000 shifted by offset minutes (offset omitted when undefined). */
function isoTime(us: bigint, offset?: number): string {
  const local = us + BigInt(offset ?? 0) * 60000000n;
  const ms = local / 1000n - (local % 1000n < 0n ? 1n : 0n);
  const sub = local - ms * 1000n;
  const iso = new Date(Number(ms) + Date.UTC(2000, 0, 1)).toISOString();
  const base = `${iso.slice(0, 10)}T${iso.slice(11, 23)}${pad(Number(sub), 3)}`;
  if (offset === undefined) return base;
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `${base}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

function floatText(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

function pgArrayLiteral(a: (string | null)[]): string {
  return `{${a.map((s) => (s === null ? 'NULL' : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;
}

/** Every column as the text a CSV/TSV field would carry (null = NULL). */
function textFields(r: Row): Record<string, string | null> {
  const m = <T>(v: T | null, f: (x: T) => string): string | null => (v === null ? null : f(v));
  return {
    rid: String(r.rid),
    t: r.t,
    v: r.v,
    i2: m(r.i2, String),
    i4: m(r.i4, String),
    i8: m(r.i8, String),
    f4: m(r.f4, floatText),
    f8: m(r.f8, floatText),
    b: m(r.b, (x) => (x ? 'true' : 'f')),
    u: r.u,
    d: m(r.d, isoDate),
    ts: m(r.ts, (x) => isoTime(x).replace('T', ' ')),
    tz: m(r.tz, ([x, off]) => isoTime(x, off)),
    j: r.j,
    jb: m(r.jb, (x) => JSON.stringify(x)),
    num: r.num,
    arr: m(r.arr, pgArrayLiteral),
  };
}

/** One NDJSON line: numbers as JSON numbers where JSON has them (exact lexemes), raw JSON for json. */
function ndjsonLine(r: Row, cols: ColumnInfo[]): string {
  const f = textFields(r);
  const parts: string[] = [];
  for (const c of cols) {
    const v = f[c.name];
    let json: string;
    if (v === null) json = 'null';
    else if (c.name === 'j') json = v;
    else if (c.name === 'jb') json = v;
    else if (c.name === 'arr') json = JSON.stringify(r.arr);
    else if (['rid', 'i2', 'i4', 'i8', 'num'].includes(c.name)) json = v;
    else if ((c.name === 'f4' || c.name === 'f8') && Number.isFinite(Number(v)))
      json = v === '-0' ? '-0.0' : v;
    else if (c.name === 'b') json = String(r.b);
    else json = JSON.stringify(v);
    parts.push(`${JSON.stringify(c.name)}:${json}`);
  }
  return `{${parts.join(',')}}`;
}

function body(format: UploadFormat, rows: Row[], cols: ColumnInfo[]): Buffer {
  const names = cols.map((c) => c.name);
  if (format === 'ndjson') return Buffer.from(rows.map((r) => ndjsonLine(r, cols)).join('\n') + '\n');
  if (format === 'csv') {
    const lines = rows.map((r) => names.map((n) => csvField(textFields(r)[n])).join(','));
    return Buffer.from([names.join(','), ...lines].join('\r\n') + '\r\n');
  }
  if (format === 'tsv') {
    const lines = rows.map((r) => names.map((n) => escapeText(textFields(r)[n])).join('\t'));
    return Buffer.from([names.join('\t'), ...lines].join('\n') + '\n');
  }
  // pgcopy: what the SDK would do with JS values.
  const values = rows.map((r) => {
    const js: Record<string, unknown> = {
      ...textFields(r),
      i8: r.i8,
      i4: r.i4,
      f4: r.f4,
      f8: r.f8,
      b: r.b,
      rid: r.rid,
    };
    // For json/jsonb a JS string is JSON text; other values are serialized by the encoder.
    js.jb = typeof r.jb === 'string' ? JSON.stringify(r.jb) : r.jb;
    return Object.fromEntries(names.map((n) => [n, js[n]]));
  });
  return Buffer.concat([...encodePgCopy(cols, values)]);
}

// --- database ------------------------------------------------------------------------------------------

let pg: TestPostgres;
let client: Client;

beforeAll(async () => {
  pg = await startTestPostgres();
  client = new Client({ connectionString: pg.url });
  await client.connect();
  // Output in UTC so that timestamptz text does not depend on the server's zone.
  await client.query("SET TimeZone = 'UTC'");
  await client.query(DDL);
});

afterAll(async () => {
  await client?.end();
  await stopAllTestServers();
});

async function copyIn(
  format: UploadFormat,
  bodyBuf: Buffer,
  cols: ColumnInfo[],
  requested?: string[],
): Promise<{ format: 'binary' | 'text'; columns: ColumnInfo[] }> {
  const enc = createCopyEncoder({
    format,
    tableColumns: ALL,
    requestedColumns: format === 'pgcopy' ? cols.map((c) => c.name) : requested,
    maxFieldBytes: 1 << 20,
    chunkBytes: 65536,
  });
  // Feed the body in uneven pieces, as HTTP would.
  const pieces: Buffer[] = [];
  for (let i = 0, n = 1; i < bodyBuf.length; i += n, n = (n * 7 + 3) % 70000 || 1)
    pieces.push(bodyBuf.subarray(i, i + n));
  const input = Readable.from(pieces);
  input.pipe(enc.transform);
  const columns = await enc.columns;
  const sql = copyStatement(TABLE, columns, enc.copyFormat);
  await pipeline(enc.transform, client.query(copyFrom(sql)));
  return { format: enc.copyFormat, columns };
}

interface Back {
  rid: number;
  t: string | null;
  v: string | null;
  i2: string | null;
  i4: string | null;
  i8: string | null;
  f4: number | null;
  f8: number | null;
  b: boolean | null;
  u: string | null;
  d: string | null;
  ts_us: string | null;
  tz_us: string | null;
  j: string | null;
  jb_same: boolean | null;
  num: string | null;
  arr_json: string | null;
}

async function readBack(rows: Row[]): Promise<Map<number, Back>> {
  const res = await client.query<Back>(
    `SELECT rid, t, v, i2::text, i4::text, i8::text, f4, f8, b, u::text, d::text,
            (extract(epoch FROM ts) * 1000000)::numeric(30,0)::text AS ts_us,
            (extract(epoch FROM tz) * 1000000)::numeric(30,0)::text AS tz_us,
            j::text, r.jb::text = e.ejb::jsonb::text AS jb_same, num::text, array_to_json(arr)::text AS arr_json
       FROM ${TABLE_SQL} r JOIN unnest($1::int[], $2::text[]) AS e(id, ejb) ON e.id = r.rid`,
    [rows.map((r) => r.rid), rows.map((r) => (r.jb === null ? null : JSON.stringify(r.jb)))],
  );
  return new Map(res.rows.map((b) => [b.rid, b]));
}

function expectSame(r: Row, b: Back | undefined, cols: ColumnInfo[]): void {
  expect(b).toBeDefined();
  const has = new Set(cols.map((c) => c.name));
  const want: Partial<Back> = {
    t: r.t,
    v: r.v,
    i2: r.i2 === null ? null : String(r.i2),
    i4: r.i4 === null ? null : String(r.i4),
    i8: r.i8 === null ? null : String(r.i8),
    b: r.b,
    u: r.u === null ? null : r.u.toLowerCase(),
    d: r.d === null ? null : isoDate(r.d),
    ts_us: r.ts === null ? null : String(r.ts + EPOCH_2000_US),
    tz_us: r.tz === null ? null : String(r.tz[0] + EPOCH_2000_US),
    j: r.j,
    jb_same: r.jb === null ? null : true,
  };
  for (const [k, v] of Object.entries(want))
    if (has.has(k.replace(/_.*$/, ''))) expect({ [k]: b![k as keyof Back] }).toEqual({ [k]: v });
  if (has.has('f8')) {
    if (r.f8 === null) expect(b!.f8).toBeNull();
    else expect(Object.is(b!.f8, r.f8)).toBe(true);
  }
  if (has.has('f4')) {
    if (r.f4 === null) expect(b!.f4).toBeNull();
    else expect(Object.is(Math.fround(b!.f4!), r.f4)).toBe(true);
  }
  if (has.has('num')) expect(b!.num).toBe(r.num);
  if (has.has('arr')) expect(b!.arr_json === null ? null : JSON.parse(b!.arr_json)).toEqual(r.arr);
}

let nextRid = 1;
function sampleRows(n: number, seed: number): Row[] {
  return fc.sample(rowArb, { numRuns: n, seed }).map((r) => ({ ...r, rid: nextRid++ }));
}

describe.each([
  ['ndjson', 'binary-encodable', BINARY, 'binary'],
  ['csv', 'binary-encodable (no date/time)', CSV_BINARY, 'binary'],
  ['csv', 'binary-encodable', BINARY, 'text'],
  ['tsv', 'binary-encodable', BINARY, 'text'],
  ['pgcopy', 'binary-encodable', BINARY, 'binary'],
  ['ndjson', 'all (numeric, text[] too)', ALL, 'text'],
  ['csv', 'all (numeric, text[] too)', ALL, 'text'],
  ['tsv', 'all (numeric, text[] too)', ALL, 'text'],
] as const)('%s, %s columns', (format, _label, cols, copyFormat) => {
  it(`stores random rows exactly (${copyFormat} COPY)`, async () => {
    for (const seed of [1, 2, 3]) {
      const rows = sampleRows(120, seed * 1000 + cols.length);
      const loaded = await copyIn(format, body(format, rows, [...cols]), [...cols]);
      expect(loaded.format).toBe(copyFormat);
      expect(loaded.columns.map((c) => c.name)).toEqual(cols.map((c) => c.name));
      const back = await readBack(rows);
      for (const r of rows) expectSame(r, back.get(r.rid), [...cols]);
    }
  });
});

it('our binary tuples are byte-identical to PostgreSQL COPY TO (FORMAT binary) for the same rows', async () => {
  // jsonb is left out: PostgreSQL sends its normalized text, we send the text we were given.
  const cols = BINARY.filter((c) => c.name !== 'jb');
  const rows = sampleRows(300, 77).map((r) => ({ ...r, jb: null }));
  await copyIn('pgcopy', body('pgcopy', rows, cols), cols);
  const ours = body('pgcopy', rows, cols);
  const out: Buffer[] = [];
  const ids = rows.map((r) => r.rid);
  const sql = `COPY (SELECT ${cols.map((c) => `"${c.name}"`).join(', ')} FROM ${TABLE_SQL} WHERE rid BETWEEN ${Math.min(...ids)} AND ${Math.max(...ids)} ORDER BY rid) TO STDOUT (FORMAT binary)`;
  await pipeline(client.query(copyTo(sql)), async (src: AsyncIterable<Buffer>) => {
    for await (const b of src) out.push(b);
  });
  expect(Buffer.concat(out).equals(ours)).toBe(true);
});

it('matches PostgreSQL on timestamp rounding and float4 double-rounding traps', async () => {
  const rid = nextRid++;
  const tsText = [
    '2000-01-01 00:00:00.1234565+00',
    '2000-01-01 00:00:00.1234575+00',
    '2000-01-01 00:00:00.99999949+00',
  ];
  const f4Text = '1.00000005960464477539062500000000000000001';
  const line = (i: number): string => `{"rid": ${rid + i}, "tz": "${tsText[i]}", "f4": ${f4Text}}`;
  nextRid += 3;
  await copyIn('ndjson', Buffer.from([0, 1, 2].map(line).join('\n')), [], ['rid', 'tz', 'f4']);
  const res = await client.query<{ same_tz: boolean; same_f4: boolean }>(
    `SELECT r.tz = e.tz::timestamptz AS same_tz, r.f4 = $3::float4 AS same_f4
       FROM ${TABLE_SQL} r JOIN unnest($1::int[], $2::text[]) e(id, tz) ON e.id = r.rid`,
    [[rid, rid + 1, rid + 2], tsText, f4Text],
  );
  expect(res.rows).toEqual([
    { same_tz: true, same_f4: true },
    { same_tz: true, same_f4: true },
    { same_tz: true, same_f4: true },
  ]);
});

it('a CRLF TSV body with escapes and the end marker is read by PostgreSQL as we framed it', async () => {
  const rid = nextRid;
  nextRid += 3;
  const body = [
    'rid\tt\tarr',
    `${rid}\ttab\\there, crlf\\r\\n, backslash \\\\ and escaped tab\\\tend\t{a,"b c"}`,
    `${rid + 1}\t\\N\t\\N`,
    `${rid + 2}\t😀 עברית\t{}`,
    '\\.',
    '',
  ].join('\r\n');
  const loaded = await copyIn('tsv', Buffer.from(body), []);
  expect(loaded.columns.map((c) => c.name)).toEqual(['rid', 't', 'arr']);
  const res = await client.query<{ t: string | null; arr: string | null }>(
    `SELECT t, arr::text FROM ${TABLE_SQL} WHERE rid BETWEEN $1 AND $2 ORDER BY rid`,
    [rid, rid + 2],
  );
  expect(res.rows).toEqual([
    { t: 'tab\there, crlf\r\n, backslash \\ and escaped tab\tend', arr: '{a,"b c"}' },
    { t: null, arr: null },
    { t: '😀 עברית', arr: '{}' },
  ]);
});

describe('PostgreSQL COPY errors map back to the row and column', () => {
  beforeAll(async () => {
    await client.query('CREATE TABLE strict_t (id int4 NOT NULL, n numeric(4,1), s text NOT NULL)');
  });
  const cols = [
    col('id', 'integer', OID.int4, { nullable: false }),
    col('n', 'numeric(4,1)', OID.numeric),
    col('s', 'text', OID.text, { nullable: false }),
  ];

  async function failing(format: UploadFormat, text: string): Promise<RowError | null> {
    const enc = createCopyEncoder({ format, tableColumns: cols, maxFieldBytes: 1000, chunkBytes: 65536 });
    Readable.from([Buffer.from(text)]).pipe(enc.transform);
    const columns = await enc.columns;
    await client.query('BEGIN');
    try {
      await pipeline(
        enc.transform,
        client.query(
          copyFrom(copyStatement({ schema: 'public', name: 'strict_t' }, columns, enc.copyFormat)),
        ),
      );
      throw new Error('COPY unexpectedly succeeded');
    } catch (err) {
      return mapCopyError(err as { message: string }, format, columns);
    } finally {
      await client.query('ROLLBACK');
    }
  }

  it('numeric overflow found by the server in a TSV body', async () => {
    const e = await failing('tsv', 'id\tn\ts\n1\t1.5\ta\n2\t12345.6\tb\n');
    expect(e).toMatchObject({ row: 2, column: 'n' });
    expect(e!.message).toMatch(/^row 2, column "n": numeric field overflow/);
  });

  it('NOT NULL violation in binary COPY from NDJSON', async () => {
    const e = await failing('ndjson', '{"id": 1, "s": "a"}\n{"id": 2, "s": "b"}\n{"id": 3, "s": null}\n');
    expect(e).toMatchObject({ row: 3, column: 's' });
    expect(e!.message).toMatch(/not-null constraint/);
  });

  it('bad numeric text in CSV (text COPY)', async () => {
    const e = await failing('csv', 'id,n,s\n1,1.0,a\n2,abc,b\n');
    expect(e).toMatchObject({ row: 2, column: 'n' });
    expect(e!.message).toMatch(/invalid input syntax for type numeric/);
  });
});

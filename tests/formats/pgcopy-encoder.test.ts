// The standalone binary encoder (shared with the SDK): random rows of every supported type encode to a
// stream that an independent decoder reads back to the same values; errors name row and column and
// leave no partial row behind.
import fc from 'fast-check';
import {
  PGCOPY_HEADER,
  PgCopyRowEncoder,
  RowError,
  binaryCopySupported,
  encodePgCopy,
  encodeRows,
} from '../../ingest/formats';
import { OID, col } from './helpers/columns';
import { type DecodeType, decodeBinaryCopy } from './helpers/copy-decode';

const EPOCH_2000_MS = Date.UTC(2000, 0, 1);

const columns = [
  col('t', 'text', OID.text),
  col('v', 'character varying(50)', OID.varchar),
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
];
const types: DecodeType[] = [
  'text',
  'text',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'bool',
  'uuid',
  'date',
  'timestamp',
  'timestamptz',
  'json',
  'jsonb',
];

/** Text without NUL and without lone surrogates: what PostgreSQL text can hold. */
const pgText = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
// 0001-01-01 .. 9999-12-31 (minus an hour, so that the +01:00 variant stays in year 9999)
const micros = fc.bigInt({ min: -63082281600000000n, max: 252455612399999999n });

function isoOf(us: bigint, zone: string): string {
  const ms = Number(us / 1000n) - (us % 1000n < 0n ? 1 : 0);
  const rest = us - BigInt(ms) * 1000n;
  const iso = new Date(ms + EPOCH_2000_MS).toISOString();
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}${zone}`;
}

const row = fc.record({
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
  tz: fc.option(micros),
  j: fc.option(fc.json()),
  jb: fc.option(fc.jsonValue()),
});
type Row = typeof row extends fc.Arbitrary<infer R> ? R : never;

/** The row in the JS values an SDK caller would pass, mixing representations the encoder accepts. */
function toValues(r: Row, variant: number): Record<string, unknown> {
  const dateText = (days: number): string =>
    new Date(EPOCH_2000_MS + days * 86400000).toISOString().slice(0, 10);
  return {
    t: r.t,
    v: r.v,
    i2: r.i2,
    i4: r.i4 === null ? null : variant % 2 ? String(r.i4) : r.i4,
    i8: r.i8 === null ? null : variant % 2 ? String(r.i8) : r.i8,
    f4: r.f4,
    f8: r.f8 === null ? null : variant % 3 === 0 ? (Object.is(r.f8, -0) ? '-0' : String(r.f8)) : r.f8,
    b: r.b === null ? null : variant % 2 ? (r.b ? 'yes' : 'no') : r.b,
    u: r.u === null ? null : variant % 2 ? r.u.toUpperCase() : r.u,
    d: r.d === null ? null : variant % 2 ? new Date(EPOCH_2000_MS + r.d * 86400000) : dateText(r.d),
    ts: r.ts === null ? null : isoOf(r.ts, '').replace('T', variant % 2 ? ' ' : 'T'),
    tz: r.tz === null ? null : variant % 2 ? isoOf(r.tz + 3600000000n, '+01:00') : isoOf(r.tz, 'Z'),
    j: r.j,
    // A string for json/jsonb is JSON text; other values are serialized by the encoder.
    jb: r.jb === null ? null : typeof r.jb === 'string' || variant % 2 ? JSON.stringify(r.jb) : r.jb,
  };
}

function expected(r: Row): unknown[] {
  const n = (x: number | bigint | null): bigint | null => (x === null ? null : BigInt(x));
  return [
    r.t,
    r.v,
    n(r.i2),
    n(r.i4),
    r.i8,
    r.f4,
    r.f8,
    r.b,
    r.u === null ? null : r.u.toLowerCase(),
    r.d,
    r.ts,
    r.tz,
    r.j,
    r.jb === null ? null : JSON.stringify(r.jb),
  ];
}

describe('encodePgCopy', () => {
  it('every supported type round-trips through an independent decoder (property)', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 20 }), fc.nat(), (rows, variant) => {
        const body = Buffer.concat([
          ...encodePgCopy(
            columns,
            rows.map((r, i) => toValues(r, variant + i)),
            { chunkBytes: 256 },
          ),
        ]);
        const decoded = decodeBinaryCopy(body, types);
        expect(decoded).toEqual(rows.map(expected));
      }),
      { numRuns: 150 },
    );
  });

  it('accepts rows as arrays in column order', () => {
    const cols = [col('a', 'int8', OID.int8), col('b', 'text', OID.text)];
    const body = Buffer.concat([
      ...encodePgCopy(cols, [
        [1n, 'x'],
        [null, null],
        [2, undefined],
      ]),
    ]);
    expect(decodeBinaryCopy(body, ['int8', 'text'])).toEqual([
      [1n, 'x'],
      [null, null],
      [2n, null],
    ]);
  });

  it('starts with the standard header and ends with the trailer', () => {
    const body = Buffer.concat([...encodePgCopy([col('a', 'text', OID.text)], [])]);
    expect(body).toEqual(Buffer.concat([PGCOPY_HEADER, Buffer.from([0xff, 0xff])]));
    expect(PGCOPY_HEADER.toString('latin1')).toBe('PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0');
  });

  it('yields chunks of at least chunkBytes (except the last)', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({ a: `row ${i} ${'x'.repeat(i % 50)}` }));
    const chunks = [...encodeRows([col('a', 'text', OID.text)], rows, { chunkBytes: 4096 })];
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(4096);
  });
});

describe('PgCopyRowEncoder errors', () => {
  const cols = [
    col('n', 'int4', OID.int4),
    col('s', 'text', OID.text),
    col('tz', 'timestamptz', OID.timestamptz),
  ];

  it.each([
    [{ n: 'x' }, 'n', /not an integer/],
    [{ n: 2 ** 31 }, 'n', /out of range for int4/],
    [{ s: 'a\0b' }, 's', /NUL/],
    [{ s: 'lone \ud800' }, 's', /lone UTF-16 surrogate/],
    [{ s: { o: 1 } }, 's', /cannot encode a object as text/],
    [{ tz: '2024-01-01 10:00' }, 'tz', /no UTC offset/],
    [{ tz: new Date(NaN) }, 'tz', /invalid Date/],
    [{ nope: 1 }, 'nope', /key "nope" is not one of the columns/],
  ] as const)('%j -> RowError on column %s', (bad, column, msg) => {
    const enc = new PgCopyRowEncoder(cols);
    enc.addRow({ n: 1, s: 'ok' });
    const before = enc.writer.pos;
    let err: unknown;
    try {
      enc.addRow(bad as Record<string, unknown>);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RowError);
    expect(err).toMatchObject({ row: 2, column });
    expect((err as Error).message).toMatch(msg);
    // Nothing of the failed row stays; the next row gets number 2.
    expect(enc.writer.pos).toBe(before);
    enc.addRow([3, 'next', null]);
    expect(enc.rows).toBe(2);
  });

  it('refuses Dates where they would be ambiguous', () => {
    const enc = new PgCopyRowEncoder([col('d', 'date', OID.date), col('ts', 'timestamp', OID.timestamp)]);
    expect(() => enc.addRow({ d: new Date('2024-01-01T10:00:00Z') })).toThrow(/UTC midnight/);
    expect(() => enc.addRow({ ts: new Date() })).toThrow(/wall-clock/);
  });

  it('refuses columns it cannot encode, up front', () => {
    expect(binaryCopySupported(col('n', 'numeric', OID.numeric))).toBe(false);
    expect(binaryCopySupported(col('t', 'text[]', OID._text))).toBe(false);
    expect(() => new PgCopyRowEncoder([col('n', 'numeric', OID.numeric)])).toThrow(
      /numeric, which binary COPY encoding does not support/,
    );
  });

  it('reads a column named like an Object.prototype member only as an own property', () => {
    const body = Buffer.concat([
      ...encodePgCopy([col('constructor', 'text', OID.text)], [{}, { constructor: 'own' }]),
    ]);
    expect(decodeBinaryCopy(body, ['text'])).toEqual([[null], ['own']]);
  });
});

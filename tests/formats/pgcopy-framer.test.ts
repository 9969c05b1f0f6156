// pgcopy passthrough: framing walked across any chunk boundary, every defect refused before it reaches
// COPY, bytes forwarded unchanged.
import { BadRequestError, LimitError, RowError, encodePgCopy } from '../../ingest/formats';
import { TM_COLUMNS } from './helpers/columns';
import fc from 'fast-check';
import { runEncoder, splitEvery, splitRandom } from './helpers/run-encoder';

const COLS = TM_COLUMNS.slice(0, 3);
const pg = (extra = {}) => ({
  format: 'pgcopy' as const,
  tableColumns: TM_COLUMNS,
  requestedColumns: ['tm_id', 'source', 'target'],
  ...extra,
});
const rows = Array.from({ length: 50 }, (_, i) => [BigInt(i), `source ${i} 😀`, i % 3 ? `target\t${i}` : '']);
const body = Buffer.concat([...encodePgCopy(COLS, rows)]);

const sig = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const i16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const header = (flags = 0, ext = Buffer.alloc(0)): Buffer =>
  Buffer.concat([sig, i32(flags), i32(ext.length), ext]);
const field = (s: string): Buffer => Buffer.concat([i32(Buffer.byteLength(s)), Buffer.from(s)]);
const int8 = (v: number): Buffer => {
  const b = Buffer.alloc(12);
  b.writeInt32BE(8);
  b.writeBigInt64BE(BigInt(v), 4);
  return b;
};
const tuple = (n: number): Buffer => Buffer.concat([i16(3), int8(n), field('a'), field('b')]);

describe('pgcopy framer', () => {
  it('forwards a valid stream byte for byte, under any chunking', async () => {
    for (const chunks of [[body], splitEvery(body, 1), splitEvery(body, 5), splitRandom(body, 7, 40)]) {
      const r = await runEncoder(pg(), chunks);
      expect(r.error).toBeUndefined();
      expect(r.output.equals(body)).toBe(true);
      expect(r.rows).toBe(50);
      expect(r.copyFormat).toBe('binary');
    }
  });

  it('without ?columns= expects all writable columns', async () => {
    const r = await runEncoder({ format: 'pgcopy', tableColumns: TM_COLUMNS }, [body]);
    expect(r.error).toBeInstanceOf(RowError);
    expect(r.error!.message).toMatch(
      /tuple has 3 fields, expected 5 \(tm_id, source, target, created_by, created_at\)/,
    );
  });

  it('skips a header extension and ignores non-critical flag bits', async () => {
    const b = Buffer.concat([header(0x0000ffff, Buffer.from('ext!')), tuple(1), i16(-1)]);
    const r = await runEncoder(pg(), splitEvery(b, 3));
    expect(r.error).toBeUndefined();
    expect(r.rows).toBe(1);
  });

  it.each([
    ['no signature', Buffer.from('tm_id\tsource\n'), BadRequestError, /signature is missing/],
    ['OID flag', Buffer.concat([header(1 << 16), i16(-1)]), BadRequestError, /OIDs/],
    [
      'unknown critical flag',
      Buffer.concat([header(1 << 20), i16(-1)]),
      BadRequestError,
      /unknown critical flags/,
    ],
    ['negative extension', Buffer.concat([sig, i32(0), i32(-5)]), BadRequestError, /extension length -5/],
    ['truncated header', sig.subarray(0, 5), BadRequestError, /signature|header/],
    ['empty body', Buffer.alloc(0), BadRequestError, /empty body/],
    [
      'no trailer',
      Buffer.concat([header(), tuple(1), tuple(2)]),
      BadRequestError,
      /after 2 rows without the trailer/,
    ],
    [
      'data after trailer',
      Buffer.concat([header(), tuple(1), i16(-1), Buffer.from([0])]),
      BadRequestError,
      /continues after its trailer/,
    ],
    [
      'wrong field count',
      Buffer.concat([header(), tuple(1), i16(2), int8(1), field('a'), i16(-1)]),
      RowError,
      /row 2: tuple has 2 fields, expected 3/,
    ],
    [
      'negative length',
      Buffer.concat([header(), i16(3), int8(1), i32(-2)]),
      RowError,
      /row 1, column "source": negative field length -2/,
    ],
    [
      'truncated in a field',
      Buffer.concat([header(), tuple(1), i16(3), int8(2), i32(10), Buffer.from('abc')]),
      RowError,
      /row 2, column "source": the body ends inside this row/,
    ],
    [
      'truncated in a length',
      Buffer.concat([header(), i16(3), int8(2), Buffer.from([0, 0])]),
      RowError,
      /row 1, column "source": the body ends inside this row/,
    ],
  ])('%s', async (_name, b, cls, msg) => {
    for (const chunks of [[b], splitEvery(b, 1)]) {
      const r = await runEncoder(pg(), chunks);
      expect(r.error).toBeInstanceOf(cls);
      expect(r.error!.message).toMatch(msg);
    }
  });

  it('refuses a claimed 1 GB field the moment its length arrives, before any of it is forwarded', async () => {
    const start = Buffer.concat([header(), tuple(1), i16(3), int8(2), i32(1 << 30)]);
    const r = await runEncoder(pg({ maxFieldBytes: 1 << 20 }), [start, Buffer.alloc(1 << 16)]);
    expect(r.error).toBeInstanceOf(LimitError);
    expect(r.error).toMatchObject({ limit: 1 << 20, row: 2, column: 'source' });
    expect(r.output.length).toBe(0);
  });

  // Whole tuples within a chunk are skipped by a tight fast path; fed one byte per chunk the framer never takes
  // it. Both must give the same rows, bytes and error (with its row and column).
  it('the whole-tuple fast path agrees with the byte-by-byte walk: rows, output, the error and its row', async () => {
    const int8 = Buffer.concat([i32(8), Buffer.alloc(8, 1)]);
    const tuple = fc.oneof(
      fc.constant(Buffer.concat([i16(3), int8, field('source'), field('t')])), // good
      fc.constant(Buffer.concat([i16(3), int8, i32(-1), i32(0)])), // NULL and empty
      fc.constant(Buffer.concat([i16(2), int8, field('x')])), // field count
      fc.constant(Buffer.concat([i16(3), i32(4), Buffer.alloc(4), field('s'), field('t')])), // int8 of 4 bytes
      fc.constant(Buffer.concat([i16(3), int8, field('123456789'), field('t')])), // over the limit
      fc.constant(Buffer.concat([i16(3), int8, i32(-2), field('t')])), // negative length
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(tuple, { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        async (tuples, trailer) => {
          const stream = Buffer.concat([header(), ...tuples, trailer ? i16(-1) : Buffer.alloc(0)]);
          const opts = pg({ maxFieldBytes: 8 });
          const whole = await runEncoder(opts, [stream]);
          const bytes = await runEncoder(opts, splitEvery(stream, 1));
          expect({ rows: whole.rows, error: whole.error?.message, out: whole.output.length }).toEqual({
            rows: bytes.rows,
            error: bytes.error?.message,
            out: bytes.output.length,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

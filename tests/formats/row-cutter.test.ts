// The row cutter spreads one upload's COPY stream over several COPYs: every piece must end on a row, together
// they must be the stream's rows exactly (binary: without its header and trailer), in any chunking.
import fc from 'fast-check';
import { createRowCutter, type RowPiece } from '../../ingest/copy-parts/row-cutter';
import { PGCOPY_SIGNATURE } from '../../ingest/formats/pgcopy-encoder';

/** Splits `b` at the given cut points (fractions of its length). */
function chunked(b: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((f) => Math.floor(f * b.length)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, b.length]) {
    if (c > prev) out.push(b.subarray(prev, c));
    prev = c;
  }
  return out;
}

function cutAll(format: 'binary' | 'text', chunks: Buffer[]): RowPiece[] {
  const cutter = createRowCutter(format);
  const pieces: RowPiece[] = [];
  for (const c of chunks) {
    const p = cutter.push(c);
    if (p) pieces.push(p);
  }
  const last = cutter.end();
  if (last) pieces.push(last);
  return pieces;
}

/** Piece end offsets must be row end offsets. */
function expectCutsOnRows(pieces: RowPiece[], rowEnds: Set<number>, rows: number, body: Buffer): void {
  let off = 0;
  let n = 0;
  for (const p of pieces) {
    expect(p.bytes.length).toBeGreaterThan(0);
    off += p.bytes.length;
    n += p.rows;
    expect(rowEnds.has(off)).toBe(true);
  }
  expect(n).toBe(rows);
  expect(Buffer.concat(pieces.map((p) => p.bytes)).equals(body)).toBe(true);
}

const field = fc.oneof(
  fc.constant(null),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
);

test('binary: header (with an extension area) and trailer off, tuples whole, in any chunking', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(field, { minLength: 0, maxLength: 5 }), { minLength: 1, maxLength: 60 }),
      fc.nat(12),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
      (rows, extLen, cuts) => {
        const header = Buffer.concat([
          PGCOPY_SIGNATURE,
          Buffer.from([0, 0, 0, 0]),
          Buffer.from([0, 0, 0, extLen]),
          Buffer.alloc(extLen, 7),
        ]);
        const tuples: Buffer[] = [];
        const ends = new Set<number>();
        let off = 0;
        for (const r of rows) {
          const parts = [Buffer.from([r.length >> 8, r.length & 0xff])];
          for (const f of r) {
            const len = Buffer.alloc(4);
            len.writeInt32BE(f === null ? -1 : f.length);
            parts.push(len);
            if (f) parts.push(f);
          }
          const t = Buffer.concat(parts);
          tuples.push(t);
          off += t.length;
          ends.add(off);
        }
        const body = Buffer.concat(tuples);
        const stream = Buffer.concat([header, body, Buffer.from([0xff, 0xff])]);
        expectCutsOnRows(cutAll('binary', chunked(stream, cuts)), ends, rows.length, body);
      },
    ),
    { numRuns: 300 },
  );
});

// Text values: tabs, backslash escapes, and backslash + a raw line end (data, not a row end, for PostgreSQL).
const textValue = fc
  .array(fc.constantFrom('a', 'b', '\\\\', '\\t', '\\n', '\\r', '\\\n', '\\\r', '\\\\\\\n', 'é', '\t'), {
    maxLength: 8,
  })
  .map((a) => a.join(''));

test.each([
  ['LF', '\n'],
  ['CRLF', '\r\n'],
  ['CR', '\r'],
])('text, %s line ends: rows end only at unescaped line ends, in any chunking', (_name, eol) => {
  fc.assert(
    fc.property(
      fc.array(fc.array(textValue, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 60 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
      (rows, cuts) => {
        // Backslash + a raw line end of the stream's kind is data (PostgreSQL skips the byte after a backslash);
        // the other kind, raw, is refused by PostgreSQL, and CRLF has no raw form: those become escapes.
        const fix = (v: string) =>
          eol === '\n'
            ? v.replace(/\\\r/g, '\\r')
            : eol === '\r'
              ? v.replace(/\\\n/g, '\\n')
              : v.replace(/\\\r/g, '\\r').replace(/\\\n/g, '\\n');
        const lines = rows.map((r) => Buffer.from(r.map(fix).join('\t') + eol));
        const ends = new Set<number>();
        let off = 0;
        for (const l of lines) ends.add((off += l.length));
        const body = Buffer.concat(lines);
        expectCutsOnRows(cutAll('text', chunked(body, cuts)), ends, rows.length, body);
      },
    ),
    { numRuns: 300 },
  );
});

test('a stream that stops inside a row or before its trailer is an error at the end', () => {
  const text = createRowCutter('text');
  text.push(Buffer.from('a\tb\nc\t'));
  expect(() => text.end()).toThrow(/inside a row/);
  const bin = createRowCutter('binary');
  bin.push(Buffer.concat([PGCOPY_SIGNATURE, Buffer.alloc(8), Buffer.from([0, 0])]));
  expect(() => bin.end()).toThrow(/without its trailer/);
});

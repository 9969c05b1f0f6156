// TSV (COPY text format) passthrough: bytes forwarded unchanged, framing checked with rows and columns.
import { BadRequestError, LimitError, RowError } from '../../ingest/formats';
import { TM_COLUMNS } from './helpers/columns';
import fc from 'fast-check';
import { runEncoder, splitEvery, splitRandom } from './helpers/run-encoder';

const tsv = (extra = {}) => ({ format: 'tsv' as const, tableColumns: TM_COLUMNS, ...extra });
const HEADER = 'tm_id\tsource\ttarget\n';

describe('TSV framer', () => {
  it('forwards data lines unchanged (header removed), escapes intact', async () => {
    const data = '1\ta\\tb\\nc\\\\d\t\\N\n2\temoji 😀\tעברית\n3\tescaped tab\\\tand newline\\\n\tx\n';
    const r = await runEncoder(tsv(), [Buffer.from(HEADER + data)]);
    expect(r.error).toBeUndefined();
    expect(r.copyFormat).toBe('text');
    expect(r.output.toString()).toBe(data);
    expect(r.rows).toBe(3);
    expect(r.columns!.map((c) => c.name)).toEqual(['tm_id', 'source', 'target']);
  });

  it('passes large input chunks through as the same Buffers', async () => {
    const data = Buffer.from(`1\t${'x'.repeat(40000)}\ty\n`);
    const r = await runEncoder(tsv({ requestedColumns: ['tm_id', 'source', 'target'] }), [data]);
    expect(r.chunkSizes).toEqual([data.length]);
    expect(r.output.equals(data)).toBe(true);
  });

  it('coalesces tiny chunks into >= chunkBytes', async () => {
    const data = Buffer.from('1\ta\tb\n'.repeat(5000));
    const r = await runEncoder(
      tsv({ requestedColumns: ['tm_id', 'source', 'target'], chunkBytes: 8192 }),
      splitEvery(data, 7),
    );
    expect(r.output.equals(data)).toBe(true);
    for (const n of r.chunkSizes.slice(0, -1)) expect(n).toBeGreaterThanOrEqual(8192);
  });

  it('accepts CRLF consistently (header included), a last line without newline, and \\. with its line end', async () => {
    const r1 = await runEncoder(tsv(), [Buffer.from('tm_id\tsource\ttarget\r\n1\ta\tb\r\n2\tc\td')]);
    expect(r1.error).toBeUndefined();
    expect(r1.output.toString()).toBe('1\ta\tb\r\n2\tc\td');
    expect(r1.rows).toBe(2);
    const r2 = await runEncoder(tsv(), [Buffer.from(`${HEADER}1\ta\tb\n\\.\n`)]);
    expect(r2.error).toBeUndefined();
    expect(r2.output.toString()).toBe('1\ta\tb\n');
    expect(r2.rows).toBe(1);
    const r3 = await runEncoder(tsv(), splitEvery(Buffer.from(`${HEADER}1\ta\tb\n\\.\n`), 1));
    expect(r3.error).toBeUndefined();
    expect(r3.output.toString()).toBe('1\ta\tb\n');
  });

  it('accepts CR line ends (set by the header line), also split across chunks, and refuses a mix', async () => {
    const body = Buffer.from('tm_id\tsource\ttarget\r1\ta\\\rb\tc\r2\td\te\r\\.\r');
    for (const chunks of [[body], splitEvery(body, 1), splitEvery(body, 2)]) {
      const r = await runEncoder(tsv(), chunks);
      expect(r.error).toBeUndefined();
      expect(r.rows).toBe(2);
      expect(r.output.toString()).toBe('1\ta\\\rb\tc\r2\td\te\r');
    }
    const mixed = await runEncoder(tsv(), [Buffer.from('tm_id\tsource\ttarget\r1\ta\tb\r\n')]);
    expect(mixed.error).toMatchObject({ row: 2 });
    expect(mixed.error!.message).toMatch(/line feed inside data/);
    const atEnd = await runEncoder(tsv(), [Buffer.from('tm_id\tsource\ttarget\r1\ta\tb\r')]);
    expect(atEnd.error).toBeUndefined();
    expect(atEnd.rows).toBe(1);
  });

  it('refuses \\. without its line end at the end of the body, as PostgreSQL does', async () => {
    for (const body of [`${HEADER}1\ta\tb\n\\.`, `tm_id\tsource\ttarget\r\n1\ta\tb\r\n\\.\r`]) {
      const r = await runEncoder(tsv(), splitEvery(Buffer.from(body), 1));
      expect(r.error).toBeInstanceOf(RowError);
      expect(r.error).toMatchObject({ row: 2 });
      expect(r.error!.message).toMatch(/must be followed by its line end/);
    }
  });

  it.each([
    [`${HEADER}1\ta\n`, 1, undefined, /2 fields, expected 3/],
    [`${HEADER}1\ta\tb\n2\ta\tb\tc\n`, 2, undefined, /more than 3 fields/],
    [`${HEADER}1\ta\tb\n\n`, 2, undefined, /1 field, expected 3/],
    [`${HEADER}1\ta\rb\tc\n`, 1, 'source', /carriage return inside data \(write it as \\r\)/],
    [`${HEADER}1\ta\tb\r\n`, 1, undefined, /CR LF but earlier lines end with LF/],
    [`tm_id\tsource\ttarget\r\n1\ta\tb\n`, 1, undefined, /LF alone but earlier lines end with CR LF/],
    [`${HEADER}1\ta\\.b\tc\n`, 1, 'source', /end-of-data marker\) inside a row/],
    [`${HEADER}1\ta\tb\n\\.\n2\tc\td\n`, 2, undefined, /data after the end-of-data marker/],
    [`${HEADER}1\ta\tb\n\\.x\n`, 2, undefined, /must be alone on its line/],
    [`${HEADER}1\ta\tb\\`, 1, 'target', /ends with a lone backslash/],
    [`${HEADER}1\ta\tnul\0\n`, 1, 'target', /NUL byte/],
  ])('%j -> RowError(row %d, column %s)', async (body, row, column, msg) => {
    const r = await runEncoder(tsv(), [Buffer.from(body)]);
    expect(r.error).toBeInstanceOf(RowError);
    expect(r.error).toMatchObject({ row, column });
    expect(r.error!.message).toMatch(msg);
  });

  it('reports invalid UTF-8 split across chunks with its row and column', async () => {
    const body = Buffer.concat([
      Buffer.from(`${HEADER}1\ta\tb\n2\tok\t\xe2\x82`, 'latin1'),
      Buffer.from('x\n'),
    ]);
    for (const chunks of [[body], splitEvery(body, 1), splitEvery(body, 3)]) {
      const r = await runEncoder(tsv(), chunks);
      expect(r.error).toBeInstanceOf(RowError);
      expect(r.error).toMatchObject({ row: 2, column: 'target' });
      expect(r.error!.message).toMatch(/invalid UTF-8/);
    }
  });

  it.each([
    ['', /empty body: expected a TSV header/],
    ['tm_id\tnope\n', /unknown column "nope"/],
    ['\n1\t2\n', /header line is empty/],
    ['tm_id\t\\N\n', /is \\N \(NULL\), not a name/],
  ])('header %j -> BadRequestError', async (body, msg) => {
    const r = await runEncoder(tsv(), [Buffer.from(body)]);
    expect(r.error).toBeInstanceOf(BadRequestError);
    expect(r.error!.message).toMatch(msg);
  });

  it('decodes escapes in header names as PostgreSQL decodes values', async () => {
    const cols = [{ ...TM_COLUMNS[0], name: 'a\tb' }, TM_COLUMNS[1], { ...TM_COLUMNS[2], name: 'xNé\u000b' }];
    const r = await runEncoder({ format: 'tsv', tableColumns: cols }, [
      Buffer.from('a\\tb\t\\163\\x6fu\\x72ce\tx\\N\\303\\251\\v\n1\tx\ty\n'),
    ]);
    expect(r.error).toBeUndefined();
    expect(r.columns!.map((c) => c.name)).toEqual(['a\tb', 'source', 'xNé\u000b']);
    const bad = await runEncoder({ format: 'tsv', tableColumns: cols }, [Buffer.from('a\\tb\t\\377\n')]);
    expect(bad.error).toBeInstanceOf(BadRequestError);
    expect(bad.error!.message).toMatch(/column 2 is not valid UTF-8/);
  });

  it('measures a field as PostgreSQL will store it: escapes decoded (413 above maxFieldBytes)', async () => {
    const fits = [
      '\\t\\t\\t\\t',
      '\\101\\102\\103\\104',
      '\\x41\\x4\\xg',
      '\\303\\251\\303\\251',
      'é\\é',
      '\\\\N.x',
    ];
    for (const v of fits) {
      const body = Buffer.from(`${HEADER}1\t${v}\tb\n`);
      for (const chunks of [[body], splitEvery(body, 1), splitEvery(body, 3)]) {
        const ok = await runEncoder(tsv({ maxFieldBytes: 4 }), chunks);
        expect({ v, error: ok.error }).toEqual({ v, error: undefined });
      }
    }
    for (const v of ['abcde', '\\101\\102\\103\\104\\105', '\\x41\\x42\\x43\\x44x', 'éé\\é']) {
      const big = await runEncoder(tsv({ maxFieldBytes: 4 }), [Buffer.from(`${HEADER}1\t${v}\tb\n`)]);
      expect(big.error).toBeInstanceOf(LimitError);
      expect(big.error).toMatchObject({ limit: 4, row: 1, column: 'source' });
    }
  });
});

describe('TSV framer: field size as stored (property)', () => {
  /** Bytes of the value PostgreSQL stores for raw text-format field bytes (written from the COPY docs). */
  function storedLength(raw: Buffer): number {
    const oct = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x37;
    const hex = (c: number | undefined) => c !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(c));
    let n = 0;
    for (let i = 0; i < raw.length; i++, n++) {
      if (raw[i] !== 0x5c) continue;
      const c = raw[++i];
      if (oct(c)) for (let k = 0; k < 2 && oct(raw[i + 1]); k++) i++;
      else if (c === 0x78 && hex(raw[i + 1])) {
        i++;
        if (hex(raw[i + 1])) i++;
      }
    }
    return n;
  }

  const token = fc.constantFrom(
    'a',
    'é',
    '7',
    'f',
    '\\1',
    '\\12',
    '\\123',
    '\\1234',
    '\\x4',
    '\\x41',
    '\\x414',
    '\\xg',
    '\\n',
    '\\\\',
    '\\é',
    '\\\t',
  );

  it('accepts a field of exactly maxFieldBytes stored bytes and refuses one more, in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(token, { minLength: 1, maxLength: 12 }), fc.nat(), async (tokens, seed) => {
        const raw = Buffer.from(tokens.join(''));
        const size = storedLength(raw);
        const body = Buffer.concat([Buffer.from(`${HEADER}1\t`), raw, Buffer.from('\tb\n')]);
        const chunks = splitRandom(body, seed, 1 + (seed % 7));
        const fits = await runEncoder(tsv({ maxFieldBytes: size }), chunks);
        expect(fits.error).toBeUndefined();
        const over = await runEncoder(tsv({ maxFieldBytes: size - 1 || 1 }), chunks);
        if (size > 1) expect(over.error).toBeInstanceOf(LimitError);
      }),
      { numRuns: 300 },
    );
  });

  // Plain lines (no backslash or CR, the right tab count, no longer than maxFieldBytes) are counted by a native
  // fast path; fed one byte per chunk the framer never takes it. Both must give the same rows, bytes and error.
  it('the plain-line fast path agrees with the byte-by-byte scan: rows, output, the error and its row', async () => {
    const line = fc.oneof(
      fc.constant('1\tab\tc\n'), // plain
      fc.constant('22\tabcdef\tg\n'), // plain, 12 bytes: longer than the limit, fields are not
      fc.constant('1\ta\\tb\tc\n'), // an escape
      fc.constant('1\tab\n'), // too few fields
      fc.constant('1\t123456789\tc\n'), // a field over the limit
      fc.constant('1\ta\tb\r\n'), // a CR
      fc.constant('\n'), // an empty line
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 40 }), async (lines) => {
        const body = Buffer.from(lines.join(''));
        const opts = tsv({ requestedColumns: ['tm_id', 'source', 'target'], maxFieldBytes: 8 });
        const whole = await runEncoder(opts, [body]);
        const bytes = await runEncoder(opts, splitEvery(body, 1));
        expect({ rows: whole.rows, error: whole.error?.message, out: whole.output.toString() }).toEqual({
          rows: bytes.rows,
          error: bytes.error?.message,
          out: bytes.output.toString(),
        });
      }),
      { numRuns: 300 },
    );
  });
});

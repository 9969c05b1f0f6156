// TSV (COPY text format) passthrough: bytes forwarded unchanged, framing checked with rows and columns.
import { BadRequestError, LimitError, RowError } from '../../ingest/formats';
import { TM_COLUMNS } from './helpers/columns';
import { runEncoder, splitEvery } from './helpers/run-encoder';

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

  it('accepts CRLF consistently (header included), a last line without newline, and \\. at the end', async () => {
    const r1 = await runEncoder(tsv(), [Buffer.from('tm_id\tsource\ttarget\r\n1\ta\tb\r\n2\tc\td')]);
    expect(r1.error).toBeUndefined();
    expect(r1.output.toString()).toBe('1\ta\tb\r\n2\tc\td');
    expect(r1.rows).toBe(2);
    const r2 = await runEncoder(tsv(), [Buffer.from(`${HEADER}1\ta\tb\n\\.\n`)]);
    expect(r2.error).toBeUndefined();
    expect(r2.output.toString()).toBe('1\ta\tb\n');
    expect(r2.rows).toBe(1);
    const r3 = await runEncoder(tsv(), splitEvery(Buffer.from(`${HEADER}1\ta\tb\n\\.`), 1));
    expect(r3.error).toBeUndefined();
    expect(r3.output.toString()).toBe('1\ta\tb\n');
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

  it('decodes escapes in header names', async () => {
    const cols = [{ ...TM_COLUMNS[0], name: 'a\tb' }, TM_COLUMNS[1]];
    const r = await runEncoder({ format: 'tsv', tableColumns: cols }, [Buffer.from('a\\tb\tsource\n1\tx\n')]);
    expect(r.columns!.map((c) => c.name)).toEqual(['a\tb', 'source']);
  });

  it('measures field size without the escaping backslashes (413 above maxFieldBytes)', async () => {
    const ok = await runEncoder(tsv({ maxFieldBytes: 4 }), [Buffer.from(`${HEADER}1\t\\t\\t\\t\\t\tb\n`)]);
    expect(ok.error).toBeUndefined();
    const big = await runEncoder(tsv({ maxFieldBytes: 4 }), [Buffer.from(`${HEADER}1\tabcde\tb\n`)]);
    expect(big.error).toBeInstanceOf(LimitError);
    expect(big.error).toMatchObject({ limit: 4, row: 1, column: 'source' });
  });
});

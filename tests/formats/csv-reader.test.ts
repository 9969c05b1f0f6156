// CSV uploads: PostgreSQL's CSV quoting, NULL vs empty string, header handling, BOM, line ends, the end
// marker, field counts and per-field UTF-8/NUL checks with row and column.
import { BadRequestError, LimitError, RowError } from '../../ingest/formats';
import { OID, TM_COLUMNS, col } from './helpers/columns';
import { decodeBinaryCopy, decodeTextCopy } from './helpers/copy-decode';
import { runEncoder, splitEvery } from './helpers/run-encoder';

const csv = (extra = {}) => ({ format: 'csv' as const, tableColumns: TM_COLUMNS, ...extra });
const T3 = ['int8', 'text', 'text'] as const;

describe('CSV reader', () => {
  it('parses quoting, embedded newlines, NULL (empty unquoted) vs "" (empty string)', async () => {
    const body = 'tm_id,source,target\r\n1,"a,b","line1\r\nline2"\r\n2,,""\r\n3,"say ""hi""",\\N\r\n';
    const r = await runEncoder(csv(), [Buffer.from(body)]);
    expect(r.error).toBeUndefined();
    expect(r.copyFormat).toBe('binary');
    expect(decodeBinaryCopy(r.output, [...T3])).toEqual([
      [1n, 'a,b', 'line1\r\nline2'],
      [2n, null, ''],
      [3n, 'say "hi"', '\\N'],
    ]);
  });

  it('strips a UTF-8 BOM, even split across chunks, and takes ?columns= instead of a header', async () => {
    const withBom = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('source,tm_id,target\nx,1,y\n'),
    ]);
    const r1 = await runEncoder(csv(), [withBom.subarray(0, 1), withBom.subarray(1, 2), withBom.subarray(2)]);
    expect(r1.columns!.map((c) => c.name)).toEqual(['source', 'tm_id', 'target']);
    const r2 = await runEncoder(csv({ requestedColumns: ['target', 'tm_id', 'source'] }), [
      Buffer.from('y,1,x\n'),
    ]);
    expect(decodeBinaryCopy(r2.output, ['text', 'int8', 'text'])).toEqual([['y', 1n, 'x']]);
  });

  it('an empty line is one NULL field: a field-count error for wider uploads, at the end too (as PostgreSQL)', async () => {
    for (const body of ['tm_id,source,target\n1,a,b\n\n', 'tm_id,source,target\n1,a,b\n\n2,c,d\n']) {
      const r = await runEncoder(csv(), [Buffer.from(body)]);
      expect(r.error).toBeInstanceOf(RowError);
      expect(r.error).toMatchObject({ row: 2, column: undefined });
      expect(r.error!.message).toMatch(/^row 2: empty line \(1 field, expected 3\)/);
    }
  });

  it('reads quotes as PostgreSQL does: quoted and unquoted parts of a field join', async () => {
    const body = 'tm_id,source,target\n1,"a"b,c"d,e"\n2,x""y," ""q"" "\n';
    const r = await runEncoder(csv(), [Buffer.from(body)]);
    expect(r.error).toBeUndefined();
    expect(decodeBinaryCopy(r.output, [...T3])).toEqual([
      [1n, 'ab', 'cd,e'],
      [2n, 'xy', ' "q" '],
    ]);
  });

  it('\\. alone on a line ends the data; anything after it is refused (PostgreSQL would ignore it)', async () => {
    const one = (body: string) =>
      runEncoder({ format: 'csv', tableColumns: [col('note', 'text', OID.text)] }, [Buffer.from(body)]);
    const r = await one('note\nx\n\\.\n');
    expect(r.error).toBeUndefined();
    expect(decodeBinaryCopy(r.output, ['text'])).toEqual([['x']]);
    // Quoted, not alone, or without a line end (the body's last bytes) it is data, as in PostgreSQL.
    const data = await one('note\n"\\."\n \\.\n\\.x\n\\.');
    expect(decodeBinaryCopy(data.output, ['text'])).toEqual([['\\.'], [' \\.'], ['\\.x'], ['\\.']]);
    const after = await one('note\nx\n\\.\ny\n');
    expect(after.error).toBeInstanceOf(RowError);
    expect(after.error).toMatchObject({ row: 2 });
    expect(after.error!.message).toMatch(/data after the end-of-data marker/);
  });

  it('line ends: the first record sets LF, CRLF or CR; another later is refused, with its row', async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const r = await runEncoder(csv(), [
        Buffer.from(['tm_id,source,target', '1,a,b', '2,"c\r\nd",e', ''].join(eol)),
      ]);
      expect(r.error).toBeUndefined();
      expect(r.rows).toBe(2);
    }
    for (const [body, row, msg] of [
      ['tm_id,source,target\n1,a,b\r\n', 1, /unquoted carriage return/],
      ['tm_id,source,target\r\n1,a,b\n', 1, /unquoted newline/],
      ['tm_id,source,target\r\n1,a,b\r2,c,d\r\n', 1, /unquoted carriage return/],
      ['tm_id,source,target\r1,a,b\r\n2,c,d\r', 2, /unquoted newline/],
    ] as const) {
      for (const chunks of [[Buffer.from(body)], splitEvery(Buffer.from(body), 1)]) {
        const r = await runEncoder(csv(), chunks);
        expect(r.error).toBeInstanceOf(RowError);
        expect(r.error).toMatchObject({ row, column: undefined });
        expect(r.error!.message).toMatch(msg);
      }
    }
  });

  it('an empty line is a NULL row for a one-column table', async () => {
    const r = await runEncoder({ format: 'csv', tableColumns: [col('note', 'text', OID.text)] }, [
      Buffer.from('note\nx\n\n""\n'),
    ]);
    expect(decodeBinaryCopy(r.output, ['text'])).toEqual([['x'], [null], ['']]);
  });

  it('text COPY for columns without a binary encoder, escaped', async () => {
    const cols = [
      col('id', 'integer', OID.int4),
      col('amount', 'numeric', OID.numeric),
      col('note', 'text', OID.text),
    ];
    const r = await runEncoder({ format: 'csv', tableColumns: cols }, [
      Buffer.from('id,amount,note\n1,1.50,"tab\there\\ and\nnewline"\n2,,\n'),
    ]);
    expect(r.copyFormat).toBe('text');
    expect(r.output.toString()).toBe('1\t1.50\ttab\\there\\\\ and\\nnewline\n2\t\\N\t\\N\n');
    expect(decodeTextCopy(r.output)).toEqual([
      ['1', '1.50', 'tab\there\\ and\nnewline'],
      ['2', null, null],
    ]);
  });

  it.each([
    ['tm_id,source,target\n1,a\n', 1, undefined, /^row 1: 2 fields, expected 3 \(tm_id, source, target\)/],
    ['tm_id,source,target\n1,a,b\n2,a,b,c\n', 2, undefined, /4 fields, expected 3/],
    ['tm_id,source,target\n1,a,b\nx,a,b\n', 2, 'tm_id', /not an integer: "x"/],
    ['tm_id,source,target\n1,a,"unterminated\n', 1, 'target', /quoted field not closed/],
    ['tm_id,source,target\n1,a"b,c\n', 1, 'source', /quoted field not closed/],
    ['tm_id,source,target\n1,a,b\n2,"nul\0here",c\n', 2, 'source', /NUL byte/],
  ])('%j -> RowError(row %d, column %s)', async (body, row, column, msg) => {
    const r = await runEncoder(csv(), [Buffer.from(body, 'latin1')]);
    expect(r.error).toBeInstanceOf(RowError);
    expect(r.error).toMatchObject({ row, column });
    expect(r.error!.message).toMatch(msg);
  });

  it('reports invalid UTF-8 in a field with row and column (not replaced by U+FFFD)', async () => {
    const body = Buffer.concat([
      Buffer.from('tm_id,source,target\n1,a,b\n2,ok,"bad '),
      Buffer.from([0xff]),
      Buffer.from('"\n'),
    ]);
    const r = await runEncoder(csv(), [body]);
    expect(r.error).toMatchObject({ row: 2, column: 'target' });
    expect(r.error!.message).toMatch(/invalid UTF-8 at byte 5/);
  });

  it.each([
    ['', /empty body: expected a CSV header/],
    ['tm_id,bogus\n', /unknown column "bogus"/],
    ['tm_id,tm_id\n', /given twice/],
    ['tm_id,,source\n', /column 2 has an empty name/],
    ['"tm_id,source\n', /CSV header: quoted field not closed/],
  ])('header %j -> BadRequestError', async (body, msg) => {
    const r = await runEncoder(csv(), [Buffer.from(body)]);
    expect(r.error).toBeInstanceOf(BadRequestError);
    expect(r.error!.message).toMatch(msg);
  });

  it('enforces maxFieldBytes per field and bounds an unclosed quote (413)', async () => {
    const r = await runEncoder(csv({ maxFieldBytes: 8 }), [
      Buffer.from('tm_id,source,target\n1,12345678,123456789\n'),
    ]);
    expect(r.error).toBeInstanceOf(LimitError);
    expect(r.error).toMatchObject({ limit: 8, row: 1, column: 'target' });
    const open = Buffer.alloc(1024 * 1024, 0x61);
    const r2 = await runEncoder(csv({ maxFieldBytes: 1000 }), [
      Buffer.from('tm_id,source,target\n1,"'),
      open,
      open,
    ]);
    expect(r2.error).toBeInstanceOf(LimitError);
  });
});

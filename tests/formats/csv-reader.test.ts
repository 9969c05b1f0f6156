// CSV uploads: RFC 4180 quoting, NULL vs empty string, header handling, BOM, CR/LF, field counts and
// per-field UTF-8/NUL checks with row and column.
import { BadRequestError, LimitError, RowError } from '../../ingest/formats';
import { OID, TM_COLUMNS, col } from './helpers/columns';
import { decodeBinaryCopy, decodeTextCopy } from './helpers/copy-decode';
import { runEncoder } from './helpers/run-encoder';

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

  it('ignores trailing empty lines but not empty lines followed by data', async () => {
    const ok = await runEncoder(csv(), [Buffer.from('tm_id,source,target\n1,a,b\n\n\n')]);
    expect(ok.error).toBeUndefined();
    expect(ok.rows).toBe(1);
    const bad = await runEncoder(csv(), [Buffer.from('tm_id,source,target\n1,a,b\n\n2,c,d\n')]);
    expect(bad.error).toBeInstanceOf(RowError);
    expect(bad.error).toMatchObject({ row: 2 });
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
    ['tm_id,source,target\n1,"a"b,c\n', 1, 'source', /unexpected character after a closing quote/],
    ['tm_id,source,target\n1,a,"unterminated\n', 1, 'target', /quoted field not closed/],
    ['tm_id,source,target\n1,a"b,c\n', 1, 'source', /a quote inside an unquoted field/],
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

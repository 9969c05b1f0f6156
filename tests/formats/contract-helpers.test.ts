// Content types, column resolution, COPY statement quoting and mapping PostgreSQL's COPY errors to rows.
import {
  BadRequestError,
  MEDIA_TYPES,
  RowError,
  copyStatement,
  formatFromContentType,
  mapCopyError,
  resolveColumns,
  selectWritable,
} from '../../ingest/formats';
import { OID, TM_COLUMNS, col } from './helpers/columns';

describe('formatFromContentType', () => {
  it.each([
    ['application/x-ndjson', 'ndjson'],
    ['text/csv', 'csv'],
    ['text/csv; charset=utf-8', 'csv'],
    ['TEXT/CSV;Charset="UTF-8"', 'csv'],
    ['text/tab-separated-values; charset=utf8', 'tsv'],
    ['application/x-pgcopy', 'pgcopy'],
    ['application/x-ndjson; foo=bar', 'ndjson'],
  ])('%s -> %s', (ct, want) => {
    expect(formatFromContentType(ct)).toBe(want);
  });
  it.each([
    undefined,
    '',
    'application/json',
    'text/csv; charset=latin1',
    'text/csv; charset=utf-16',
    'text/plain',
    'text/csv; junk',
  ])('%j -> null', (ct) => {
    expect(formatFromContentType(ct)).toBeNull();
  });
  it('reads back every media type of the one table the worker, the SDK and the CLI use', () => {
    for (const [format, type] of Object.entries(MEDIA_TYPES)) {
      expect(formatFromContentType(type)).toBe(format);
      expect(formatFromContentType(`${type.toUpperCase()}; charset=utf-8`)).toBe(format);
    }
    expect(Object.keys(MEDIA_TYPES).sort()).toEqual(['csv', 'ndjson', 'pgcopy', 'tsv']);
  });
});

describe('resolveColumns', () => {
  const table = [
    col('id', 'bigint', OID.int8, { identity: 'a', hasDefault: true }),
    col('tm_id', 'bigint', OID.int8),
    col('Mixed Case', 'text', OID.text),
    col('total', 'bigint', OID.int8, { generated: 's' }),
  ];

  it('keeps the requested order and exact names', () => {
    const sel = selectWritable(table);
    expect(resolveColumns(sel, ['Mixed Case', 'tm_id'], 'test').map((c) => c.name)).toEqual([
      'Mixed Case',
      'tm_id',
    ]);
  });

  it('names every problem: unknown, duplicate, identity, generated, empty', () => {
    const sel = selectWritable(table);
    const call = (): unknown =>
      resolveColumns(sel, ['nope', 'tm_id', 'tm_id', 'id', 'total', ''], 'CSV header');
    expect(call).toThrow(BadRequestError);
    expect(call).toThrow(
      /CSV header: unknown column "nope"; column "tm_id" given twice; column "id" is GENERATED ALWAYS AS IDENTITY.*; column "total" is a generated column.*; empty column name \(writable columns: tm_id, Mixed Case\)/,
    );
  });

  it('lets identity columns be written only when allowed', () => {
    expect(resolveColumns(selectWritable(table, true), ['id'], 't').map((c) => c.name)).toEqual(['id']);
  });
});

describe('copyStatement', () => {
  it('quotes every identifier, doubling quotes', () => {
    const cols = [col('a"b', 'text', OID.text), col('select', 'int4', OID.int4)];
    expect(copyStatement({ schema: 'my schema', name: 'x"; DROP TABLE t; --' }, cols, 'binary')).toBe(
      'COPY "my schema"."x""; DROP TABLE t; --" ("a""b", "select") FROM STDIN WITH (FORMAT binary)',
    );
    expect(copyStatement({ schema: 'public', name: 't' }, cols, 'text')).toBe(
      `COPY "public"."t" ("a""b", "select") FROM STDIN WITH (FORMAT text, ENCODING 'UTF8')`,
    );
  });
});

describe('mapCopyError', () => {
  const cols = [...TM_COLUMNS, col('odd: name', 'text', OID.text)];
  it('maps line N and column c from the context', () => {
    const e = mapCopyError(
      {
        message: 'invalid input syntax for type bigint: "x"',
        where: 'COPY tm_entries, line 7, column tm_id: "x"',
      },
      'tsv',
      cols,
    );
    expect(e).toBeInstanceOf(RowError);
    expect(e).toMatchObject({ row: 7, column: 'tm_id' });
    expect(e!.message).toBe('row 7, column "tm_id": invalid input syntax for type bigint: "x"');
  });

  it('takes the COPY line below trigger context and names with colons', () => {
    const e = mapCopyError(
      {
        message: 'boom',
        where: 'PL/pgSQL function f() line 3 at RAISE\nCOPY t, line 12, column odd: name: "v"',
      },
      'ndjson',
      cols,
    );
    expect(e).toMatchObject({ row: 12, column: 'odd: name' });
  });

  it('uses the error column for constraint violations (binary context has no column)', () => {
    const e = mapCopyError(
      {
        message: 'null value in column "source" of relation "tm_entries" violates not-null constraint',
        where: 'COPY tm_entries, line 3',
        column: 'source',
        detail: 'Failing row contains (...)',
      },
      'pgcopy',
      cols,
    );
    expect(e).toMatchObject({ row: 3, column: 'source' });
    expect(e!.message).toMatch(/\(Failing row contains/);
  });

  it('returns null without a COPY context', () => {
    expect(mapCopyError({ message: 'deadlock detected' }, 'csv', cols)).toBeNull();
    expect(mapCopyError({ message: 'x', where: 'SQL function "f"' }, 'csv', cols)).toBeNull();
  });
});

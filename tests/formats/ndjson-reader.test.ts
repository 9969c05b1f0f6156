// NDJSON uploads: column set from the first object (or ?columns=), values per type, NULLs, escapes,
// and errors that name the 1-based data row and the column.
import { BadRequestError, LimitError, RowError } from '../../ingest/formats';
import { OID, TM_COLUMNS, col } from './helpers/columns';
import { decodeBinaryCopy, decodeTextCopy } from './helpers/copy-decode';
import { runEncoder } from './helpers/run-encoder';

const lines = (...objs: string[]): Buffer => Buffer.from(objs.join('\n') + '\n');
const ndjson = (tableColumns = TM_COLUMNS, extra = {}) => ({
  format: 'ndjson' as const,
  tableColumns,
  ...extra,
});

describe('NDJSON reader', () => {
  it('encodes TM rows to binary COPY, columns from the first object in its key order', async () => {
    const r = await runEncoder(ndjson(), [
      lines(
        '{"source": "Hallo", "tm_id": 7, "target": "Hello"}',
        '{"tm_id": "9007199254740993", "target": "b", "source": "a\\tb\\n\\u00e9\\ud83d\\ude00"}',
        '{"source": "x", "tm_id": 1, "target": null}',
        '{"source": "only source and id", "tm_id": -1}',
      ),
    ]);
    expect(r.error).toBeUndefined();
    expect(r.copyFormat).toBe('binary');
    expect(r.columns!.map((c) => c.name)).toEqual(['source', 'tm_id', 'target']);
    expect(r.rows).toBe(4);
    expect(decodeBinaryCopy(r.output, ['text', 'int8', 'text'])).toEqual([
      ['Hallo', 7n, 'Hello'],
      ['a\tb\né😀', 9007199254740993n, 'b'],
      ['x', 1n, null],
      ['only source and id', -1n, null],
    ]);
  });

  it('keeps int8 beyond 2^53 exact when sent as a JSON number', async () => {
    const r = await runEncoder(ndjson(), [
      lines('{"tm_id": 9223372036854775807, "source": "s", "target": "t"}'),
    ]);
    expect(decodeBinaryCopy(r.output, ['int8', 'text', 'text'])[0][0]).toBe(9223372036854775807n);
  });

  it('takes ?columns= as the column set, so the first row may omit keys', async () => {
    const r = await runEncoder(
      ndjson(TM_COLUMNS, { requestedColumns: ['tm_id', 'source', 'target', 'created_by'] }),
      [
        lines(
          '{"tm_id": 1, "source": "a", "target": "b"}',
          '{"tm_id": 2, "source": "c", "target": "d", "created_by": "me"}',
        ),
      ],
    );
    expect(decodeBinaryCopy(r.output, ['int8', 'text', 'text', 'text'])).toEqual([
      [1n, 'a', 'b', null],
      [2n, 'c', 'd', 'me'],
    ]);
  });

  it('accepts CRLF, blank lines and a last line without newline; rows count objects', async () => {
    const r = await runEncoder(ndjson(), [
      Buffer.from(
        '\r\n{"tm_id":1,"source":"a","target":"b"}\r\n   \n\n{"tm_id":2,"source":"c","target":"d"}',
      ),
    ]);
    expect(r.error).toBeUndefined();
    expect(r.rows).toBe(2);
  });

  it('writes jsonb as version 1 + the JSON text, timestamps with offsets, and JSON null as SQL NULL', async () => {
    const cols = [
      col('file_id', 'bigint', OID.int8),
      col('metadata', 'jsonb', OID.jsonb),
      col('at', 'timestamp with time zone', OID.timestamptz),
      col('ok', 'boolean', OID.bool),
      col('score', 'double precision', OID.float8),
    ];
    const r = await runEncoder(ndjson(cols), [
      lines(
        '{"file_id": 1, "metadata": {"a": [1, 2.5e3, "x\\"y"], "b": null}, "at": "2024-05-01T12:00:00+02:00", "ok": true, "score": 1e-3}',
        '{"file_id": 2, "metadata": "just a string", "at": null, "ok": "no", "score": "NaN"}',
        '{"file_id": 3, "metadata": null, "at": "2000-01-01T00:00:00Z", "ok": 0, "score": -0.0}',
      ),
    ]);
    expect(r.error).toBeUndefined();
    const rows = decodeBinaryCopy(r.output, ['int8', 'jsonb', 'timestamptz', 'bool', 'float8']);
    expect(rows[0]).toEqual([
      1n,
      '{"a": [1, 2.5e3, "x\\"y"], "b": null}',
      BigInt(Date.UTC(2024, 4, 1, 10) - Date.UTC(2000, 0, 1)) * 1000n,
      true,
      0.001,
    ]);
    expect(rows[1].slice(0, 4)).toEqual([2n, '"just a string"', null, false]);
    expect(rows[1][4]).toBeNaN();
    expect(rows[2].slice(0, 4)).toEqual([3n, null, 0n, false]);
    expect(Object.is(rows[2][4], -0)).toBe(true);
  });

  it('falls back to text COPY for types without a binary encoder, JSON arrays becoming array literals', async () => {
    const cols = [
      col('id', 'integer', OID.int4),
      col('amount', 'numeric(30,10)', OID.numeric),
      col('tags', 'text[]', OID._text),
    ];
    const r = await runEncoder(ndjson(cols), [
      lines(
        '{"id": 1, "amount": 12345678901234567890.0123456789, "tags": ["a", "b,c", "{x}", "q\\"uote", "back\\\\slash", null, "tab\\there"]}',
        '{"id": 2, "amount": "-1.5", "tags": []}',
        '{"id": 3, "amount": null, "tags": [["x", "y"], ["z", null]]}',
      ),
    ]);
    expect(r.error).toBeUndefined();
    expect(r.copyFormat).toBe('text');
    expect(decodeTextCopy(r.output)).toEqual([
      [
        '1',
        '12345678901234567890.0123456789',
        '{"a","b,c","{x}","q\\"uote","back\\\\slash",NULL,"tab\there"}',
      ],
      ['2', '-1.5', '{}'],
      ['3', null, '{{"x","y"},{"z",NULL}}'],
    ]);
  });

  it.each([
    ['{"tm_id": 1, "source": "a", "target": "b", "bogus": 1}', BadRequestError, /unknown column "bogus"/],
    ['{"tm_id": 1, "tm_id": 2}', BadRequestError, /column "tm_id" given twice/],
    ['{}', BadRequestError, /empty object/],
  ])('first row %s -> %p', async (line, cls, msg) => {
    const r = await runEncoder(ndjson(), [lines(line)]);
    expect(r.error).toBeInstanceOf(cls);
    expect(r.error!.message).toMatch(msg);
    expect(r.columns).toBeUndefined();
  });

  const first = '{"tm_id": 1, "source": "a", "target": "b"}';
  it.each([
    [
      '{"tm_id": 2, "source": "a", "target": "b", "created_by": "x"}',
      2,
      'created_by',
      /not among this upload's columns \(tm_id, source, target\), which the first object fixed/,
    ],
    ['{"tm_id": 2, "source": "a", "bogus": 1}', 2, 'bogus', /unknown column "bogus"/],
    ['{"tm_id": 2, "source": "a", "source": "b"}', 2, 'source', /key appears twice/],
    ['{"tm_id": 1.5, "source": "a"}', 2, 'tm_id', /fractional part/],
    ['{"tm_id": "x", "source": "a"}', 2, 'tm_id', /not an integer: "x"/],
    ['{"tm_id": 2, "source": {"o": 1}}', 2, 'source', /a JSON object cannot go into a text column/],
    ['{"tm_id": 2, "source": "\\ud800"}', 2, 'source', /lone high surrogate/],
    ['{"tm_id": 2, "source": "nul \\u0000"}', 2, 'source', /NUL/],
    ['{"tm_id": 2, "source": "raw\ttab"}', 2, 'source', /raw control character 0x09/],
    ['{"tm_id": 2, "source": "a"} trailing', 2, undefined, /unexpected data after the object/],
    ['[1, 2]', 2, undefined, /must be one JSON object/],
    ['{"tm_id": 2, "source": "unterminated}', 2, 'source', /unterminated string/],
    ['{"tm_id": 2 "source": "a"}', 2, undefined, /expected ',' or '}'/],
    ['{"tm_id": 99999999999999999999, "source": "a"}', 2, 'tm_id', /out of range for int8/],
  ])('row 2 %s -> RowError(row %d, column %s)', async (line, row, column, msg) => {
    const r = await runEncoder(ndjson(), [lines(first, line)]);
    expect(r.error).toBeInstanceOf(RowError);
    expect(r.error).toMatchObject({ row, column });
    expect(r.error!.message).toMatch(msg);
    expect(r.error!.message).toMatch(/^row 2/);
  });

  it('counts rows, not lines, and says which line', async () => {
    const r = await runEncoder(ndjson(), [Buffer.from(`${first}\n\n\n{"tm_id": "bad"}\n`)]);
    expect(r.error).toMatchObject({ row: 2, column: 'tm_id' });
    expect(r.error!.message).toMatch(/^row 2 \(line 4\), column "tm_id"/);
  });

  it('reports invalid UTF-8 with row and column', async () => {
    const bad = Buffer.concat([
      Buffer.from(`${first}\n{"tm_id": 2, "source": "ok", "target": "x`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}\n'),
    ]);
    const r = await runEncoder(ndjson(), [bad]);
    expect(r.error).toBeInstanceOf(RowError);
    expect(r.error).toMatchObject({ row: 2, column: 'target' });
    expect(r.error!.message).toMatch(/invalid UTF-8/);
  });

  it('enforces maxFieldBytes on decoded values (413)', async () => {
    const r = await runEncoder(ndjson(TM_COLUMNS, { maxFieldBytes: 10 }), [
      lines(first, `{"tm_id": 2, "source": "${'\\u00e9'.repeat(5)}", "target": "${'y'.repeat(11)}"}`),
    ]);
    expect(r.error).toBeInstanceOf(LimitError);
    expect(r.error).toMatchObject({ limit: 10, row: 2, column: 'target' });
  });

  it('bounds a line that never ends (413) instead of buffering it', async () => {
    const huge = Buffer.alloc(4 * 1024 * 1024, 0x61);
    const chunks = [Buffer.from('{"tm_id": 1, "source": "'), huge, huge, huge, huge];
    const r = await runEncoder(ndjson(TM_COLUMNS, { maxFieldBytes: 1024 }), chunks);
    expect(r.error).toBeInstanceOf(LimitError);
  });

  it('an empty body is zero rows with all writable columns', async () => {
    const r = await runEncoder(ndjson(), []);
    expect(r.error).toBeUndefined();
    expect(r.columns!.length).toBe(TM_COLUMNS.length);
    expect(decodeBinaryCopy(r.output, ['int8', 'text', 'text', 'text', 'timestamptz'])).toEqual([]);
  });
});

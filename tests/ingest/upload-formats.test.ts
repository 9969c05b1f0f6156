// Uploads through the worker into real PostgreSQL 16 behind real PgBouncer: every format, NULLs, quoting
// and escaping edge cases, big fields, and every 4xx row of the docs/INGEST-API.md status table.
import { stopAllTestServers } from '../harness';
import type { IngestServer } from '../../ingest/server';
import { pgcopy, pgcopyHeader, pgcopyTuple, type PgCopyValue } from './pgcopy-fixture';
import { TOKENS, request, startIngestStack, upload, type HttpResult, type IngestStack } from './stack';

const MAX_BODY = 4 * 1024 * 1024;
const MAX_FIELD = 256 * 1024;

let stack: IngestStack;
let worker: IngestServer;
let url: string;

beforeAll(async () => {
  stack = await startIngestStack();
  worker = await stack.startWorker({ limits: { maxBodyBytes: MAX_BODY, maxFieldBytes: MAX_FIELD } });
  url = worker.url;
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await stopAllTestServers();
});

/** Values that break naive CSV/TSV/JSON handling; each must come back byte for byte. */
const NASTY: string[] = [
  'plain',
  'tab\there\tand\tthere',
  'new\nline',
  'crlf\r\nand lone cr\r',
  'back\\slash, \\N and \\t literally',
  'quote " double "" and \'single\'',
  '"starts and ends with quotes"',
  'comma, semicolon; pipe|',
  'emoji 😀👍🏽 and flag 🇩🇪',
  'RTL: مرحبا بالعالم — עברית',
  '\\.',
  ' leading and trailing spaces ',
  '',
  'NULL',
  '\\N',
  'zero\u200bwidth\u200djoiner and BOM \ufeff inside',
];

interface FileRow {
  row_num: number;
  source: string | null;
  target: string | null;
  metadata: unknown;
}

/** NASTY as file_rows: every value once as source, NULL targets every third row, JSON metadata. */
function nastyRows(): FileRow[] {
  return NASTY.map((s, i) => ({
    row_num: i + 1,
    source: s,
    target: i % 3 === 0 ? null : `${s}|${i}`,
    metadata: i % 4 === 0 ? null : { i, s, nested: { list: [1, 'two', null] } },
  }));
}

const FILE_ROW_COLUMNS = ['file_id', 'row_num', 'source', 'target', 'metadata'];

function asNdjson(fileId: number, rows: FileRow[]): string {
  return rows.map((r) => JSON.stringify({ file_id: fileId, ...r }) + '\n').join('');
}

function csvField(v: unknown): string {
  if (v === null) return ''; // empty unquoted = NULL
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  return typeof v === 'number' ? s : `"${s.replace(/"/g, '""')}"`;
}

function asCsv(fileId: number, rows: FileRow[], header = true): string {
  const lines = rows.map((r) => [fileId, r.row_num, r.source, r.target, r.metadata].map(csvField).join(','));
  return (header ? [FILE_ROW_COLUMNS.join(','), ...lines] : lines).map((l) => l + '\r\n').join('');
}

function tsvField(v: unknown): string {
  if (v === null) return '\\N';
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

function asTsv(fileId: number, rows: FileRow[], header = true): string {
  const lines = rows.map((r) => [fileId, r.row_num, r.source, r.target, r.metadata].map(tsvField).join('\t'));
  return (header ? [FILE_ROW_COLUMNS.join('\t'), ...lines] : lines).map((l) => l + '\n').join('');
}

function asPgcopy(fileId: number, rows: FileRow[]): Buffer {
  return pgcopy(
    rows.map((r): PgCopyValue[] => [
      { int8: fileId },
      { int4: r.row_num },
      r.source === null ? null : { text: r.source },
      r.target === null ? null : { text: r.target },
      r.metadata === null ? null : { jsonb: JSON.stringify(r.metadata) },
    ]),
  );
}

async function storedRows(fileId: number): Promise<FileRow[]> {
  return stack.sql<FileRow>(
    'SELECT row_num, source, target, metadata FROM file_rows WHERE file_id = $1 ORDER BY row_num',
    [fileId],
  );
}

async function countFileRows(fileId: number): Promise<number> {
  const [r] = await stack.sql<{ n: number }>('SELECT count(*)::int AS n FROM file_rows WHERE file_id = $1', [
    fileId,
  ]);
  return r.n;
}

describe('every format stores every value exactly', () => {
  const cases: [string, (id: number, rows: FileRow[]) => Promise<HttpResult>][] = [
    ['ndjson', async (id, rows) => upload(url, 'file_rows', 'ndjson', asNdjson(id, rows))],
    ['csv with header', async (id, rows) => upload(url, 'file_rows', 'csv', asCsv(id, rows))],
    [
      'csv with ?columns',
      async (id, rows) =>
        upload(url, 'file_rows', 'csv', asCsv(id, rows, false), { columns: FILE_ROW_COLUMNS.join(',') }),
    ],
    ['tsv with header', async (id, rows) => upload(url, 'file_rows', 'tsv', asTsv(id, rows))],
    [
      'tsv with ?columns',
      async (id, rows) =>
        upload(url, 'file_rows', 'tsv', asTsv(id, rows, false), { columns: FILE_ROW_COLUMNS.join(',') }),
    ],
    [
      'pgcopy with ?columns',
      async (id, rows) =>
        upload(url, 'file_rows', 'pgcopy', asPgcopy(id, rows), { columns: FILE_ROW_COLUMNS.join(',') }),
    ],
  ];

  it.each(cases.map(([name, send], i) => [name, send, 100 + i] as const))(
    '%s: tabs, newlines, backslashes, quotes, emoji, RTL, empty vs NULL',
    async (_name, send, fileId) => {
      const rows = nastyRows();
      const res = await send(fileId, rows);
      expect(res.body).toMatchObject({ table: 'file_rows', rows: rows.length });
      expect(res.status).toBe(201);
      expect(typeof res.body.uploadId).toBe('string');
      expect(res.body.bytes).toBeGreaterThan(0);
      expect(await storedRows(fileId)).toEqual(rows);
    },
  );

  /** The body in 997-byte pieces: fields, escapes and UTF-8 sequences get split across chunks. */
  const pieces = (body: string | Buffer): Buffer[] => {
    const buf = Buffer.from(body);
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 997) out.push(buf.subarray(i, i + 997));
    return out;
  };

  it.each([
    [
      'ndjson',
      (id: number, rows: FileRow[]) => upload(url, 'file_rows', 'ndjson', pieces(asNdjson(id, rows))),
    ],
    ['csv', (id: number, rows: FileRow[]) => upload(url, 'file_rows', 'csv', pieces(asCsv(id, rows)))],
    ['tsv', (id: number, rows: FileRow[]) => upload(url, 'file_rows', 'tsv', pieces(asTsv(id, rows)))],
    [
      'pgcopy',
      (id: number, rows: FileRow[]) =>
        upload(url, 'file_rows', 'pgcopy', pieces(asPgcopy(id, rows)), {
          columns: FILE_ROW_COLUMNS.join(','),
        }),
    ],
  ] as const)('%s: 100 KB fields, body sent in small pieces', async (name, send) => {
    const fileId = 200 + ['ndjson', 'csv', 'tsv', 'pgcopy'].indexOf(name);
    const big = 'ab€😀\t\n\\"'.repeat(8000); // ~100 KB of UTF-8 with every escape-worthy byte
    const rows: FileRow[] = [
      { row_num: 1, source: big, target: 'small', metadata: { big } },
      { row_num: 2, source: 'small', target: big.slice(0, 50_001), metadata: null },
    ];
    expect(Buffer.byteLength(big)).toBeGreaterThan(100_000);
    const res = await send(fileId, rows);
    expect(res.status).toBe(201);
    expect(await storedRows(fileId)).toEqual(rows);
  });

  it('binary-encodes every supported type from NDJSON and CSV (ints, floats, bool, uuid, date, timestamptz, jsonb, arrays)', async () => {
    const row = {
      t: 'text ✓',
      n: 42,
      b: 9007199254740991,
      f: -1.5e-7,
      ok: true,
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      d: '2024-02-29',
      ts: '2024-05-01T12:34:56.789Z',
      j: { a: [1, 2, { b: null }], s: 'ü' },
      tags: ['x', 'y z', 'with "quote"', 'back\\slash'],
      v: 'varchar',
    };
    const res = await upload(
      url,
      'typed_rows',
      'ndjson',
      JSON.stringify(row) + '\n' + JSON.stringify({ t: 'nulls', n: null }) + '\n',
    );
    expect(res.status).toBe(201);
    expect(res.body.rows).toBe(2);
    const stored = await stack.sql<Record<string, unknown>>(
      `SELECT t, n, b::text AS b, f, ok, u::text AS u, d::text AS d, ts, j, tags, v FROM typed_rows WHERE t IN ('text ✓', 'nulls') ORDER BY id`,
    );
    expect(stored[0]).toEqual({ ...row, b: '9007199254740991', ts: new Date(row.ts) });
    expect(stored[1]).toEqual({
      t: 'nulls',
      n: null,
      b: null,
      f: null,
      ok: null,
      u: null,
      d: null,
      ts: null,
      j: null,
      tags: null,
      v: null,
    });

    const csv =
      't,n,b,f,ok,u,d,ts\r\ncsv typed,7,-9007199254740991,3.25,false,A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12,1999-12-31,2000-01-01 00:00:00+00\r\n';
    const res2 = await upload(url, 'typed_rows', 'csv', csv);
    expect(res2.status).toBe(201);
    const [c] = await stack.sql<Record<string, unknown>>(
      `SELECT n, b::text AS b, f, ok, u::text AS u, d::text AS d, ts FROM typed_rows WHERE t = 'csv typed'`,
    );
    expect(c).toEqual({
      n: 7,
      b: '-9007199254740991',
      f: 3.25,
      ok: false,
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
      d: '1999-12-31',
      ts: new Date('2000-01-01T00:00:00Z'),
    });
  });

  it('columns not given take their table default; an empty body with only a header stores nothing', async () => {
    const res = await upload(url, 'tm_entries', 'ndjson', '{"tm_id": 77, "source": "s", "target": "t"}\n');
    expect(res.status).toBe(201);
    const [r] = await stack.sql<{ id: string; created_by: null; age: boolean }>(
      `SELECT id, created_by, now() - created_at < interval '1 hour' AS age FROM tm_entries WHERE tm_id = 77`,
    );
    expect(Number(r.id)).toBeGreaterThan(0);
    expect(r.created_by).toBeNull();
    expect(r.age).toBe(true);
    const empty = await upload(url, 'tm_entries', 'csv', 'tm_id,source,target\r\n');
    expect(empty.status).toBe(201);
    expect(empty.body.rows).toBe(0);
  });

  it('describes a table: writable columns only, with types, nullability and defaults', async () => {
    const res = await request(url, '/v1/tables/tm_entries', { method: 'GET', token: TOKENS.tmOnly });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      table: 'tm_entries',
      columns: [
        { name: 'tm_id', type: 'bigint', typeOid: 20, nullable: false, hasDefault: false },
        { name: 'source', type: 'text', typeOid: 25, nullable: false, hasDefault: false },
        { name: 'target', type: 'text', typeOid: 25, nullable: false, hasDefault: false },
        { name: 'created_by', type: 'text', typeOid: 25, nullable: true, hasDefault: false },
        {
          name: 'created_at',
          type: 'timestamp with time zone',
          typeOid: 1184,
          nullable: false,
          hasDefault: true,
        },
      ],
    });
    expect((await request(url, '/v1/tables/file_rows', { method: 'GET', token: TOKENS.tmOnly })).status).toBe(
      403,
    );
    expect((await request(url, '/v1/tables/hidden', { method: 'GET', token: TOKENS.writer })).status).toBe(
      404,
    );
    expect((await request(url, '/v1/tables/tm_entries', { method: 'GET' })).status).toBe(401);
  });
});

describe('400 bad_row: the 1-based data row and column, nothing stored', () => {
  it('a parser error (NDJSON syntax, CSV field count) names the row', async () => {
    const ndjson =
      [1, 2].map((i) => JSON.stringify({ file_id: 300, row_num: i }) + '\n').join('') +
      '{"file_id": 300, "row_num": \n';
    const a = await upload(url, 'file_rows', 'ndjson', ndjson);
    expect(a.status).toBe(400);
    expect(a.body).toMatchObject({ error: 'bad_row', row: 3 });
    expect(typeof a.body.message).toBe('string');

    const csv = 'file_id,row_num,source\r\n301,1,a\r\n301,2\r\n301,3,c\r\n';
    const b = await upload(url, 'file_rows', 'csv', csv);
    expect(b.status).toBe(400);
    expect(b.body).toMatchObject({ error: 'bad_row', row: 2 });
    expect(await countFileRows(300)).toBe(0);
    expect(await countFileRows(301)).toBe(0);
  });

  it('a value PostgreSQL rejects mid-COPY (TSV passthrough) maps back to row and column', async () => {
    const good = Array.from({ length: 5000 }, (_, i) => `tsv-row\t${i}`).join('\n');
    const body = `t\tn\n${good}\ntsv-row\tnot-a-number\ntsv-row\t1\n`;
    const res = await upload(url, 'typed_rows', 'tsv', body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'bad_row', row: 5001, column: 'n' });
    expect(String(res.body.message)).toMatch(/integer/);
    const [r] = await stack.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM typed_rows WHERE t = 'tsv-row'`,
    );
    expect(r.n).toBe(0);
  });

  it('constraint violations (CHECK, NOT NULL, duplicate key) name the row', async () => {
    const check = await upload(
      url,
      'typed_rows',
      'ndjson',
      '{"t":"chk","n":1}\n{"t":"chk","n":2}\n{"t":"chk","n":-1}\n',
    );
    expect(check.status).toBe(400);
    expect(check.body).toMatchObject({ error: 'bad_row', row: 3 });
    expect(String(check.body.message)).toMatch(/check constraint/);

    const notNull = await upload(
      url,
      'tm_entries',
      'ndjson',
      '{"tm_id":500,"source":"a","target":"b"}\n{"tm_id":500,"source":"a","target":null}\n',
    );
    expect(notNull.status).toBe(400);
    expect(notNull.body).toMatchObject({ error: 'bad_row', row: 2, column: 'target' });

    const dup = await upload(url, 'keyed', 'csv', 'k,val\r\na,1\r\nb,2\r\na,3\r\n');
    expect(dup.status).toBe(400);
    expect(dup.body).toMatchObject({ error: 'bad_row', row: 3 });
    expect(String(dup.body.message)).toMatch(/duplicate key/);

    const counts = await stack.sql<{ chk: number; tm: number; keyed: number }>(
      `SELECT (SELECT count(*)::int FROM typed_rows WHERE t = 'chk') AS chk,
              (SELECT count(*)::int FROM tm_entries WHERE tm_id = 500) AS tm,
              (SELECT count(*)::int FROM keyed) AS keyed`,
    );
    expect(counts).toEqual([{ chk: 0, tm: 0, keyed: 0 }]);
  });

  it('a truncated pgcopy stream is rejected and nothing stored', async () => {
    const body = Buffer.concat([
      pgcopyHeader(),
      pgcopyTuple([{ int8: 302 }, { int4: 1 }]),
      pgcopyTuple([{ int8: 302 }]),
    ]);
    const res = await upload(url, 'file_rows', 'pgcopy', body.subarray(0, body.length - 3), {
      columns: 'file_id,row_num',
    });
    expect(res.status).toBe(400);
    expect(['bad_row', 'bad_request']).toContain(res.body.error);
    expect(await countFileRows(302)).toBe(0);
  });
});

describe('400 bad_request', () => {
  it.each([
    [
      'an NDJSON key that is not a column',
      'ndjson',
      '{"tm_id":1,"source":"a","target":"b","nope":1}\n',
      undefined,
    ],
    ['a CSV header naming an unknown column', 'csv', 'tm_id,source,nope\r\n1,a,b\r\n', undefined],
    ['?columns naming an unknown column', 'tsv', '1\ta\tb\n', 'tm_id,source,nope'],
    [
      'the GENERATED ALWAYS identity column',
      'ndjson',
      '{"id":5,"tm_id":1,"source":"a","target":"b"}\n',
      undefined,
    ],
  ] as const)('%s', async (_name, format, body, columns) => {
    const res = await upload(url, 'tm_entries', format, body, { columns });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_request');
    expect(typeof res.body.message).toBe('string');
  });

  it('a malformed Idempotency-Key or an unknown query parameter', async () => {
    const badKey = await upload(url, 'tm_entries', 'ndjson', '', { key: 'has space' });
    expect(badKey.status).toBe(400);
    expect(badKey.body).toMatchObject({ error: 'bad_request' });
    const tooLong = await upload(url, 'tm_entries', 'ndjson', '', { key: 'k'.repeat(129) });
    expect(tooLong.status).toBe(400);
    const param = await request(url, '/v1/tables/tm_entries/uploads?column=a', {
      token: TOKENS.writer,
      contentType: 'application/x-ndjson',
      body: '',
    });
    expect(param.status).toBe(400);
    expect(String(param.body.message)).toMatch(/unknown query parameter "column"/);
  });
});

describe('401 / 403 / 404 / 405 / 415', () => {
  const body = '{"tm_id":900,"source":"a","target":"b"}\n';

  it('401 without a token, with a wrong one, or with another scheme', async () => {
    for (const token of [undefined, 'wrong', TOKENS.writer + 'x', TOKENS.writer.slice(0, -1)]) {
      const res = await upload(url, 'tm_entries', 'ndjson', body, { token: token ?? '' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'unauthorized' });
    }
    const basic = await request(url, '/v1/tables/tm_entries/uploads', {
      headers: { Authorization: `Basic ${Buffer.from(`x:${TOKENS.writer}`).toString('base64')}` },
      contentType: 'application/x-ndjson',
      body,
    });
    expect(basic.status).toBe(401);
  });

  it('403 for a table the token may not write', async () => {
    const res = await upload(url, 'file_rows', 'ndjson', '{"file_id":900,"row_num":1}\n', {
      token: TOKENS.tmOnly,
    });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'forbidden' });
    const ok = await upload(url, 'tm_entries', 'ndjson', body, { token: TOKENS.tmOnly });
    expect(ok.status).toBe(201);
  });

  it('404 alike for a table that exists but is not allowlisted and one that does not exist', async () => {
    const hidden = await upload(url, 'hidden', 'ndjson', '{"x":1}\n');
    const absent = await upload(url, 'no_such_table', 'ndjson', '{"x":1}\n');
    const weird = await upload(url, '%E0%A4%A', 'ndjson', '{"x":1}\n');
    for (const res of [hidden, absent, weird]) {
      expect(res.status).toBe(404);
      expect(res.text).toBe('{"error":"unknown_table"}');
    }
    const [r] = await stack.sql<{ n: number }>('SELECT count(*)::int AS n FROM hidden');
    expect(r.n).toBe(0);
  });

  it('405 for another method, 415 for another Content-Type', async () => {
    expect(
      (await request(url, '/v1/tables/tm_entries/uploads', { method: 'GET', token: TOKENS.writer })).status,
    ).toBe(405);
    for (const contentType of ['text/plain', 'application/json', undefined]) {
      const res = await request(url, '/v1/tables/tm_entries/uploads', {
        token: TOKENS.writer,
        contentType,
        body,
      });
      expect(res.status).toBe(415);
      expect(res.body).toEqual({ error: 'unsupported_media_type' });
    }
    const [r] = await stack.sql<{ n: number }>('SELECT count(*)::int AS n FROM tm_entries WHERE tm_id = 900');
    expect(r.n).toBe(1); // only the 403 test's allowed upload
  });
});

describe('413 too_large', () => {
  it('Content-Length over the body limit is refused before reading', async () => {
    const res = await request(url, '/v1/tables/file_rows/uploads', {
      token: TOKENS.writer,
      contentType: 'application/x-ndjson',
      headers: { 'Content-Length': String(MAX_BODY + 1) },
      body: '{"file_id":400,"row_num":1}\n',
    }).catch((err: Error) => err);
    // The server answers at once; the client may see the response or a reset while it still has bytes to send.
    if (res instanceof Error) throw res;
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'too_large', limit: MAX_BODY });
  });

  it('a chunked body that grows past the limit is cut off and rolled back', async () => {
    const line = JSON.stringify({ file_id: 401, row_num: 1, source: 'x'.repeat(1000) }) + '\n';
    const pieces = Array.from({ length: Math.ceil((MAX_BODY * 1.2) / (line.length * 100)) }, () =>
      line.repeat(100),
    );
    const res = await upload(url, 'file_rows', 'ndjson', pieces);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'too_large', limit: MAX_BODY });
    expect(await countFileRows(401)).toBe(0);
  });

  it('a field over the field limit', async () => {
    const body = JSON.stringify({ file_id: 402, row_num: 1, source: 'y'.repeat(MAX_FIELD + 1) }) + '\n';
    const res = await upload(url, 'file_rows', 'ndjson', body);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'too_large', limit: MAX_FIELD });
    expect(await countFileRows(402)).toBe(0);
  });
});

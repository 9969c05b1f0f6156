// A corpus of nasty inputs through the endpoint (encodings, NUL, surrogates, line ends, BOM, escapes cut at
// chunk boundaries, lying pgcopy lengths, out-of-range numbers, field counts, a gzip bomb, deep JSON) and SQL
// injection through every place a request can carry text. Each case states what the client must get back
// and checks that nothing partial was stored; the injection cases also prove from PostgreSQL's own statement
// log that no request text ever became part of a statement.
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ROLES } from '../../config-templates';
import { answered, getJson, openUpload, sleep, upload, type Format, type HttpResult } from './http-client';
import { processAlive, startLiveStack, type LiveStack } from './live-stack';
import { PGCOPY_HEAD, PGCOPY_TRAILER, RT_TABLE_SQL } from './row-formats';

jest.setTimeout(180_000);

let live: LiveStack;
let workerPid: number;
const tried = { corpus: 0, injection: 0 };

beforeAll(async () => {
  live = await startLiveStack({ users: 4 });
  await live.addTables(
    `${RT_TABLE_SQL(ROLES.ingest)}
     CREATE TABLE public.canary (x int);
     INSERT INTO public.canary VALUES (42);
     CREATE TABLE public."we""ird; DROP TABLE canary; --" (
       id int,
       "col ""x""; DROP TABLE canary; --" text,
       "Mixed Case" text
     );
     GRANT INSERT ON public."we""ird; DROP TABLE canary; --" TO ${ROLES.ingest};`,
    [
      { schema: 'public', table: 'rt_rows' },
      { schema: 'public', table: 'we"ird; DROP TABLE canary; --', name: 'weird' },
    ],
  );
  workerPid = live.stack.workerPid!;
}, 120_000);

afterAll(async () => {
  if (live) expect(processAlive(workerPid)).toBe(true);
  await live?.stop();
  console.log(`nasty inputs: ${JSON.stringify(tried)}`);
});

let nextRun = 1;
/** Which figure send() adds to: the corpus, or (in the injection tests) the injection attempts. */
let counting: keyof typeof tried = 'corpus';

/** Rows stored for run `run` of rt_rows: texts of t in seq order. */
async function storedT(run: number): Promise<(string | null)[]> {
  const rows = await live.sql<{ t: string | null }>('SELECT t FROM rt_rows WHERE run = $1 ORDER BY seq', [
    run,
  ]);
  return rows.map((r) => r.t);
}

async function send(
  format: Format,
  pieces: (string | Buffer)[],
  opts: { columns?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const u = openUpload(live.url, 'rt_rows', format, { token: live.token, ...opts });
  for (const [i, p] of pieces.entries()) {
    if (u.settled) break;
    if (i > 0) await sleep(2); // separate reads on the server: the cut really lands there
    await u.write(p);
  }
  u.end();
  tried[counting]++;
  return answered(await u.outcome);
}

const b = (...parts: (string | number[] | Buffer)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

/**
 * 400 bad_row naming `row`; the column, when the case names one, must be that one if the answer names any
 * (JSON-level errors such as a lone surrogate give the byte offset in the message instead).
 */
function expectBadRow(res: HttpResult, row: number, column?: string): void {
  expect({ status: res.status, error: res.body.error, row: res.body.row }).toEqual({
    status: 400,
    error: 'bad_row',
    row,
  });
  if (column !== undefined && res.body.column !== undefined) expect(res.body.column).toBe(column);
  expect(String(res.body.message).length).toBeGreaterThan(10);
}

describe('encodings: invalid UTF-8, NUL, lone surrogates', () => {
  const invalid: [string, number[]][] = [
    ['a truncated 2-byte sequence', [0xc3, 0x28]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['a UTF-8-encoded surrogate', [0xed, 0xa0, 0x80]],
    ['0xFF', [0xff]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];

  it.each(invalid)(
    '%s in row 2 → 400 naming row 2, nothing stored (every text format)',
    async (_name, bytes) => {
      for (const format of ['ndjson', 'csv', 'tsv'] as const) {
        const run = nextRun++;
        const body =
          format === 'ndjson'
            ? b(`{"run":${run},"seq":1,"t":"ok"}\n{"run":${run},"seq":2,"t":"bad `, bytes, `"}\n`)
            : format === 'csv'
              ? b(`run,seq,t\r\n${run},1,ok\r\n${run},2,"bad `, bytes, `"\r\n`)
              : b(`${run}\t1\tok\n${run}\t2\tbad `, bytes, `\n`);
        const res = await send(format, [body], { columns: format === 'tsv' ? 'run,seq,t' : undefined });
        expectBadRow(res, 2);
        expect(await storedT(run)).toEqual([]);
      }
    },
  );

  it("NUL: a JSON \\u0000 escape, a raw NUL byte in CSV and TSV, and TSV's \\0 escape → 400 naming the row", async () => {
    const run = nextRun++;
    expectBadRow(await send('ndjson', [`{"run":${run},"seq":1,"t":"a\\u0000b"}\n`]), 1, 't');
    expectBadRow(await send('ndjson', [b(`{"run":${run},"seq":1,"t":"a`, [0], `b"}\n`)]), 1);
    expectBadRow(await send('csv', [b(`run,seq,t\n${run},1,ok\n${run},2,"a`, [0], `b"\n`)]), 2);
    expectBadRow(await send('tsv', [b(`${run}\t1\ta`, [0], `b\n`)], { columns: 'run,seq,t' }), 1);
    expectBadRow(await send('tsv', [`${run}\t1\tok\n${run}\t2\ta\\0b\n`], { columns: 'run,seq,t' }), 2);
    expect(await storedT(run)).toEqual([]);
  });

  it('lone surrogates in JSON escapes → 400; a proper surrogate pair is stored as the character', async () => {
    const run = nextRun++;
    for (const esc of ['\\ud800', '\\udc00', '\\ud800\\u0041', '\\udc00\\ud800', 'x\\ud83d']) {
      expectBadRow(await send('ndjson', [`{"run":${run},"seq":1,"t":"${esc}"}\n`]), 1, 't');
    }
    expectBadRow(await send('ndjson', [`{"run":${run},"seq":1,"j":{"k":"\\ud800"}}\n`]), 1, 'j');
    expect(await storedT(run)).toEqual([]);
    const ok = await send('ndjson', [`{"run":${run},"seq":1,"t":"\\ud83d\\ude00 \\u00e9"}\n`]);
    expect(ok.status).toBe(201);
    expect(await storedT(run)).toEqual(['😀 é']);
  });

  it('JSON \\u0000 inside a jsonb value → 400 naming the row and column', async () => {
    const run = nextRun++;
    expectBadRow(
      await send('ndjson', [`{"run":${run},"seq":1}\n{"run":${run},"seq":2,"j":{"a":"\\u0000"}}\n`]),
      2,
      'j',
    );
    expect(await storedT(run)).toEqual([]);
  });
});

describe('line ends and BOM', () => {
  it('CRLF, LF and CR inside quoted CSV values are kept; LF, CRLF and CR line ends each work', async () => {
    for (const eol of ['\r\n', '\n', '\r']) {
      const run = nextRun++;
      const lines = [
        'run,seq,t',
        `${run},1,"a\r\nb"`,
        `${run},2,"c\rd"`,
        `${run},3,"e\nf"`,
        `${run},4,plain`,
      ];
      const res = await send('csv', [lines.join(eol) + eol]);
      expect(res.status).toBe(201);
      expect(await storedT(run)).toEqual(['a\r\nb', 'c\rd', 'e\nf', 'plain']);
    }
  });

  it('CSV line ends mixed outside quotes → 400 naming the row (as PostgreSQL refuses them), nothing stored', async () => {
    const run = nextRun++;
    const res = await send('csv', [`run,seq,t\r\n${run},1,x\r\n${run},2,y\n${run},3,z\r\n`]);
    expectBadRow(res, 2);
    expect(String(res.body.message)).toMatch(/unquoted newline/);
    expect(await storedT(run)).toEqual([]);
  });

  it('NDJSON with CRLF line ends and blank lines stores the objects only', async () => {
    const run = nextRun++;
    const res = await send('ndjson', [
      `\r\n{"run":${run},"seq":1,"t":"x"}\r\n\r\n{"run":${run},"seq":2,"t":"y"}\r\n`,
    ]);
    expect(res.status).toBe(201);
    expect(res.body.rows).toBe(2);
    expect(await storedT(run)).toEqual(['x', 'y']);
  });

  it('TSV (COPY text) with CRLF line ends is stored without a stray CR; a mix is refused', async () => {
    const run = nextRun++;
    const res = await send('tsv', [`${run}\t1\tx\r\n${run}\t2\ty\r\n`], { columns: 'run,seq,t' });
    expect(res.status).toBe(201);
    expect(await storedT(run)).toEqual(['x', 'y']);
    const mixed = nextRun++;
    const bad = await send('tsv', [`${mixed}\t1\tx\r\n${mixed}\t2\ty\n`], { columns: 'run,seq,t' });
    expectBadRow(bad, 2);
    expect(await storedT(mixed)).toEqual([]);
  });

  it.each(['csv', 'tsv', 'ndjson'] as const)(
    'a UTF-8 BOM before the %s body is not part of the first column name or value',
    async (format) => {
      const run = nextRun++;
      const body =
        format === 'csv'
          ? `\ufeffrun,seq,t\r\n${run},1,x\r\n`
          : format === 'tsv'
            ? `\ufeffrun\tseq\tt\n${run}\t1\tx\n`
            : `\ufeff{"run":${run},"seq":1,"t":"x"}\n`;
      const res = await send(format, [body]);
      // The documented behaviour (docs/INGEST-API.md, Known deviations): the BOM is removed.
      expect(res.status).toBe(201);
      expect(await storedT(run)).toEqual(['x']);
    },
  );
});

describe('escapes, quotes and characters cut at chunk boundaries', () => {
  const cases: [string, Format, string[], string | undefined, string][] = [
    ['CSV "" split between its two quotes', 'csv', ['run,seq,t\n{run},1,"a"', '"b"\n'], undefined, 'a"b'],
    ['CSV quote opening at the end of a chunk', 'csv', ['run,seq,t\n{run},1,"', 'x,y"\n'], undefined, 'x,y'],
    ['CSV CRLF split between CR and LF', 'csv', ['run,seq,t\r\n{run},1,z\r', '\n'], undefined, 'z'],
    ['TSV backslash escape split after the backslash', 'tsv', ['{run}\t1\ta\\', 'tb\n'], 'run,seq,t', 'a\tb'],
    [
      'TSV \\N split after the backslash (a literal text, not NULL, when escaped)',
      'tsv',
      ['{run}\t1\t\\\\', 'N\n'],
      'run,seq,t',
      '\\N',
    ],
    [
      'JSON \\u escape split inside its hex digits',
      'ndjson',
      ['{"run":{run},"seq":1,"t":"\\u00', 'e9"}\n'],
      undefined,
      'é',
    ],
    [
      'JSON surrogate pair split between its halves',
      'ndjson',
      ['{"run":{run},"seq":1,"t":"\\ud83d', '\\ude00"}\n'],
      undefined,
      '😀',
    ],
    [
      'JSON string split after a backslash',
      'ndjson',
      ['{"run":{run},"seq":1,"t":"q\\', '"q"}\n'],
      undefined,
      'q"q',
    ],
  ];

  it.each(cases)('%s', async (_name, format, pieces, columns, want) => {
    const run = nextRun++;
    const res = await send(
      format,
      pieces.map((p) => p.replace('{run}', String(run))),
      { columns },
    );
    expect(res.status).toBe(201);
    expect(await storedT(run)).toEqual([want]);
  });

  it('a multi-byte character split between chunks, in every text format', async () => {
    for (const format of ['ndjson', 'csv', 'tsv'] as const) {
      const run = nextRun++;
      const text =
        format === 'ndjson'
          ? `{"run":${run},"seq":1,"t":"€😀"}\n`
          : format === 'csv'
            ? `${run},1,€😀\n`
            : `${run}\t1\t€😀\n`;
      const bytes = Buffer.from(text, 'utf8');
      const euro = bytes.indexOf(Buffer.from('€', 'utf8'));
      const pieces = [
        bytes.subarray(0, euro + 1),
        bytes.subarray(euro + 1, euro + 5),
        bytes.subarray(euro + 5),
      ];
      const res = await send(format, pieces, { columns: format === 'ndjson' ? undefined : 'run,seq,t' });
      expect(res.status).toBe(201);
      expect(await storedT(run)).toEqual(['€😀']);
    }
  });
});

describe('pgcopy framing lies', () => {
  const int16 = (n: number) => {
    const x = Buffer.alloc(2);
    x.writeInt16BE(n);
    return x;
  };
  const int32 = (n: number) => {
    const x = Buffer.alloc(4);
    x.writeInt32BE(n);
    return x;
  };
  const int64 = (n: number) => {
    const x = Buffer.alloc(8);
    x.writeBigInt64BE(BigInt(n));
    return x;
  };
  /** A valid (run, seq, t) tuple. */
  const tuple = (run: number, seq: number, t: string) =>
    b(int16(3), int32(8), int64(run), int32(4), int32(seq), int32(Buffer.byteLength(t)), t);

  async function sendCopy(body: Buffer): Promise<HttpResult> {
    return send('pgcopy', [body], { columns: 'run,seq,t' });
  }

  it('a field claiming 1 GiB: 413 naming the field limit, answered without waiting for the bytes', async () => {
    const run = nextRun++;
    const body = b(
      PGCOPY_HEAD,
      tuple(run, 1, 'ok'),
      int16(3),
      int32(8),
      int64(run),
      int32(4),
      int32(2),
      int32(0x40000000),
      'only a few bytes',
    );
    // The body is sent without its end: an answer must come from the length alone.
    const u = openUpload(live.url, 'rt_rows', 'pgcopy', { token: live.token, columns: 'run,seq,t' });
    await u.write(body);
    const res = answered(await u.outcome);
    u.abort();
    tried.corpus++;
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'too_large', limit: live.stack.config.limits.maxFieldBytes });
    expect(await storedT(run)).toEqual([]);
  });

  it.each([
    [
      'a negative length other than -1',
      (run: number) =>
        b(
          PGCOPY_HEAD,
          tuple(run, 1, 'ok'),
          int16(3),
          int32(8),
          int64(run),
          int32(4),
          int32(2),
          int32(-2),
          PGCOPY_TRAILER,
        ),
      2,
    ],
    [
      'a tuple with 2 fields for 3 columns',
      (run: number) =>
        b(
          PGCOPY_HEAD,
          tuple(run, 1, 'ok'),
          int16(2),
          int32(8),
          int64(run),
          int32(4),
          int32(2),
          PGCOPY_TRAILER,
        ),
      2,
    ],
    [
      'a tuple with 4 fields for 3 columns',
      (run: number) =>
        b(
          PGCOPY_HEAD,
          tuple(run, 1, 'ok'),
          int16(4),
          int32(8),
          int64(run),
          int32(4),
          int32(2),
          int32(-1),
          int32(-1),
          PGCOPY_TRAILER,
        ),
      2,
    ],
    [
      'an int4 field 3 bytes long',
      (run: number) =>
        b(PGCOPY_HEAD, int16(3), int32(8), int64(run), int32(3), [0, 0, 1], int32(-1), PGCOPY_TRAILER),
      1,
    ],
  ] as const)('%s → 400 naming the row, nothing stored', async (_name, make, row) => {
    const run = nextRun++;
    const res = await sendCopy(make(run));
    expect(res.status).toBe(400);
    if (res.body.error === 'bad_row') expect(res.body.row).toBe(row);
    else expect(res.body.error).toBe('bad_request');
    expect(await storedT(run)).toEqual([]);
  });

  it.each([
    ['a trailer cut in half', (run: number) => b(PGCOPY_HEAD, tuple(run, 1, 'ok'), [0xff])],
    ['no trailer', (run: number) => b(PGCOPY_HEAD, tuple(run, 1, 'ok'))],
    [
      'bytes after the trailer',
      (run: number) => b(PGCOPY_HEAD, tuple(run, 1, 'ok'), PGCOPY_TRAILER, tuple(run, 2, 'sneaky')),
    ],
    [
      'a wrong signature',
      (run: number) => b('PGCOPY\n\xff\r\n\x01', int32(0), int32(0), tuple(run, 1, 'ok'), PGCOPY_TRAILER),
    ],
    [
      'the OID flag in the header',
      (run: number) =>
        b(PGCOPY_HEAD.subarray(0, 11), int32(1 << 16), int32(0), tuple(run, 1, 'ok'), PGCOPY_TRAILER),
    ],
    [
      'a header extension claiming 2 GiB',
      (run: number) =>
        b(PGCOPY_HEAD.subarray(0, 11), int32(0), int32(0x7fffffff), tuple(run, 1, 'ok'), PGCOPY_TRAILER),
    ],
    ['a header cut short', () => PGCOPY_HEAD.subarray(0, 15)],
  ] as const)('%s → 4xx, nothing stored', async (_name, make) => {
    const run = nextRun++;
    const res = await sendCopy(make(run));
    expect([400, 413]).toContain(res.status);
    expect(typeof res.body.message === 'string' || res.status === 413).toBe(true);
    expect(await storedT(run)).toEqual([]);
  });
});

describe('numbers out of range and wrong field counts', () => {
  it.each([
    ['int4 2147483648', 'ndjson', (r: number) => `{"run":${r},"seq":2147483648}\n`, 1, 'seq'],
    [
      'int8 9223372036854775808',
      'ndjson',
      (r: number) => `{"run":${r},"seq":1,"big":9223372036854775808}\n`,
      1,
      'big',
    ],
    ['float8 1e309', 'ndjson', (r: number) => `{"run":${r},"seq":1,"f":1e309}\n`, 1, 'f'],
    ['a fraction for int4', 'csv', (r: number) => `run,seq\n${r},1.5\n`, 1, 'seq'],
    [
      'int8 with 20 digits (TSV, checked by PostgreSQL)',
      'tsv',
      (r: number) => `run\tseq\tbig\n${r}\t1\t1\n${r}\t2\t99999999999999999999\n`,
      2,
      'big',
    ],
    ['an unquoted JSON number for a bool', 'ndjson', (r: number) => `{"run":${r},"seq":1,"ok":2}\n`, 1, 'ok'],
    [
      'a CSV row with one field too many',
      'csv',
      (r: number) => `run,seq,t\n${r},1,a\n${r},2,b,extra\n`,
      2,
      undefined,
    ],
    ['a CSV row with one field too few', 'csv', (r: number) => `run,seq,t\n${r},1,a\n${r},2\n`, 2, undefined],
    [
      'a TSV row with one field too many',
      'tsv',
      (r: number) => `run\tseq\n${r}\t1\n${r}\t2\tx\n`,
      2,
      undefined,
    ],
  ] as const)('%s → 400 naming row and column', async (_name, format, make, row, column) => {
    const run = nextRun++;
    expectBadRow(await send(format, [make(run)]), row, column);
    expect(await storedT(run)).toEqual([]);
  });

  it('a duplicate key in an NDJSON object is refused rather than silently picking one value', async () => {
    const run = nextRun++;
    const first = await send('ndjson', [`{"run":${run},"seq":1,"t":"first","t":"second"}\n`]);
    expect(first.status).toBe(400);
    expect(String(first.body.message)).toMatch(/"t" given twice/);
    const later = await send('ndjson', [
      `{"run":${run},"seq":1,"t":"a"}\n{"run":${run},"seq":2,"t":"first","t":"second"}\n`,
    ]);
    expectBadRow(later, 2, 't');
    expect(await storedT(run)).toEqual([]);
  });
});

describe('resource attacks', () => {
  function workerRssMiB(): number {
    const status = fs.readFileSync(`/proc/${live.stack.workerPid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  it('a gzip bomb (100 MiB of zeros in 100 KiB, Content-Encoding: gzip) is never inflated: 415 naming the coding, nothing stored', async () => {
    const run = nextRun++;
    const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024, `{"run":${run},"seq":1}\n`));
    const before = workerRssMiB();
    const res = await send('ndjson', [bomb], { headers: { 'Content-Encoding': 'gzip' } });
    expect(res.status).toBe(415);
    expect(String(res.body.message)).toMatch(/Content-Encoding gzip is not supported/);
    expect(await storedT(run)).toEqual([]);
    expect(workerRssMiB() - before).toBeLessThan(64);
  });

  it('jsonb nested 100 000 deep: a 4xx naming the row, not a crash or a 500', async () => {
    const run = nextRun++;
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const res = await send('ndjson', [`{"run":${run},"seq":1,"j":${deep}}\n`]);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await storedT(run)).toEqual([]);
    expect((await getJson(live.url, '/healthz')).status).toBe(200);
  });

  it('a single 20 MB line (one field over the 8 MiB field limit): 413, nothing stored', async () => {
    const run = nextRun++;
    const big = 'x'.repeat(20 * 1024 * 1024);
    const res = await send('ndjson', [`{"run":${run},"seq":1,"t":"`, big, `"}\n`]);
    expect(res.status).toBe(413);
    expect(res.body.limit).toBe(live.stack.config.limits.maxFieldBytes);
    expect(await storedT(run)).toEqual([]);
  });
});

describe('SQL injection through every text a request carries', () => {
  const MARK = 'INJ3CT';
  const PAYLOADS = [
    `x"; DROP TABLE canary; --${MARK}`,
    `x'); DROP TABLE canary; --${MARK}`,
    `x) TO PROGRAM 'touch /tmp/${MARK}'; --`,
    `$$; DROP TABLE canary; $$${MARK}`,
    `canary WHERE 1=1 /*${MARK}*/`,
  ];
  let tablesBefore: string[];
  let logFrom: number;

  beforeAll(async () => {
    counting = 'injection';
    tablesBefore = (
      await live.sql<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_tables ORDER BY 1`)
    ).map((r) => r.t);
    // Every statement PostgreSQL runs from now on is logged, with its bound parameters apart.
    await live.sql(`ALTER SYSTEM SET log_statement = 'all'`);
    await live.sql('SELECT pg_reload_conf()');
    await sleep(200);
    logFrom = fs.statSync(live.stack.pg.logFile).size;
  });

  afterAll(async () => {
    await live.sql('ALTER SYSTEM RESET log_statement');
    await live.sql('SELECT pg_reload_conf()');
  });

  const inj = async (res: HttpResult | Promise<HttpResult>) => {
    tried.injection++;
    return res;
  };

  it('table names in the path: 404, whatever they say', async () => {
    for (const p of [
      ...PAYLOADS,
      'canary',
      'public.canary',
      'pg_catalog.pg_class',
      '..%2Fcanary',
      'rt_rows%00',
      'RT_ROWS',
      'rt_rows ',
    ]) {
      const res = answered(
        await upload(live.url, encodeURIComponent(p).replace(/%2F/gi, '%2F'), 'ndjson', '{"x":1}\n', {
          token: live.token,
        }),
      );
      await inj(res);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: 'unknown_table' });
    }
  });

  it('column lists, NDJSON keys and CSV/TSV headers: 400 unknown column, nothing stored', async () => {
    for (const p of PAYLOADS) {
      const c = await send('tsv', ['1\t1\n'], { columns: `run,seq,${p}` });
      expect(c.status).toBe(400);
      expect(c.body.error).toBe('bad_request');
      const n = await send('ndjson', [`{"run":1,"seq":1,${JSON.stringify(p)}:1}\n`]);
      expect(n.status).toBe(400);
      const h = await send('csv', [`run,seq,"${p.replace(/"/g, '""')}"\n1,1,x\n`]);
      expect(h.status).toBe(400);
    }
    expect(await storedT(1)).toEqual([]);
  });

  it('Idempotency-Keys: malformed ones are 400; well-formed odd ones are only ever a bound parameter', async () => {
    for (const p of PAYLOADS) {
      const res = await send('ndjson', ['{"run":1,"seq":1}\n'], { headers: { 'Idempotency-Key': p } });
      expect(res.status).toBe(400);
    }
    const run = nextRun++;
    const odd = `--.${MARK}:-_..`;
    const first = await send('ndjson', [`{"run":${run},"seq":1,"t":"k"}\n`], {
      headers: { 'Idempotency-Key': odd },
    });
    expect(first.status).toBe(201);
    const lookup = await getJson(
      live.url,
      `/v1/uploads?idempotencyKey=${encodeURIComponent(odd)}`,
      live.token,
    );
    expect(lookup.body).toMatchObject({ state: 'committed', rows: 1 });
    for (const q of [
      `idempotencyKey=${encodeURIComponent(`' OR 1=1 --${MARK}`)}`,
      `idempotencyKey=${odd}&table=${encodeURIComponent(`x' OR '1'='1${MARK}`)}`,
    ]) {
      const r = await getJson(live.url, `/v1/uploads?${q}`, live.token);
      tried.injection++;
      expect([400, 404]).toContain(r.status);
    }
    const byId = await getJson(
      live.url,
      `/v1/uploads/${encodeURIComponent(`1' OR '1'='1${MARK}`)}`,
      live.token,
    );
    tried.injection++;
    expect(byId.status).toBe(404);
  });

  it('headers (Content-Type, Authorization, anything else): refused or ignored, never executed', async () => {
    for (const p of PAYLOADS) {
      const ct = await send('ndjson', ['{"run":1,"seq":1}\n'], {
        headers: { 'Content-Type': `application/x-ndjson; charset=${p.replace(/[^\x20-\x7e]/g, '')}` },
      });
      expect(ct.status).toBe(415);
      const auth = answered(
        await upload(live.url, 'rt_rows', 'ndjson', '{"run":1,"seq":1}\n', { token: p.replace(/\s/g, '') }),
      );
      await inj(auth);
      expect(auth.status).toBe(401);
      const run = nextRun++;
      const other = await send('ndjson', [`{"run":${run},"seq":1,"t":"h"}\n`], {
        headers: { 'X-Forwarded-For': p, 'User-Agent': p, 'X-Table': p },
      });
      expect(other.status).toBe(201);
    }
  });

  it('values are data: SQL in every column comes back as the same text', async () => {
    const run = nextRun++;
    const rows = PAYLOADS.map((p, i) => JSON.stringify({ run, seq: i + 1, t: p, j: { [p]: p } }) + '\n');
    expect((await send('ndjson', rows)).status).toBe(201);
    expect(await storedT(run)).toEqual(PAYLOADS);
  });

  it('identifiers with quotes, semicolons and spaces are quoted, never spliced: the odd table takes rows in every format', async () => {
    const col = 'col "x"; DROP TABLE canary; --';
    const csvCol = `"${col.replace(/"/g, '""')}"`;
    const bodies: [Format, string | Buffer, string | undefined][] = [
      ['ndjson', `{"id":1,${JSON.stringify(col)}:"n","Mixed Case":"m"}\n`, undefined],
      ['csv', `id,${csvCol},Mixed Case\n2,c,m\n`, undefined],
      ['tsv', `3\tt\tm\n`, `id,${col},Mixed Case`],
      [
        'pgcopy',
        Buffer.concat([
          PGCOPY_HEAD,
          Buffer.from([0, 2, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1]),
          Buffer.from('p'),
          PGCOPY_TRAILER,
        ]),
        `id,${col}`,
      ],
    ];
    for (const [format, body, columns] of bodies) {
      const res = answered(await upload(live.url, 'weird', format, body, { token: live.token, columns }));
      await inj(res);
      expect({ format, status: res.status, body: res.body }).toMatchObject({
        format,
        status: 201,
        body: { rows: 1 },
      });
    }
    const rows = await live.sql<{ id: number; v: string }>(
      `SELECT id, "col ""x""; DROP TABLE canary; --" AS v FROM public."we""ird; DROP TABLE canary; --" ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 1, v: 'n' },
      { id: 2, v: 'c' },
      { id: 3, v: 't' },
      { id: 4, v: 'p' },
    ]);
  });

  it('afterwards: the canary is alive, no table came or went, and no request text ever was part of a statement', async () => {
    expect(await live.sql('SELECT x FROM public.canary')).toEqual([{ x: 42 }]);
    const tablesAfter = (
      await live.sql<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_tables ORDER BY 1`)
    ).map((r) => r.t);
    expect(tablesAfter).toEqual(tablesBefore);
    expect(fs.existsSync(`/tmp/${MARK}`)).toBe(false);
    const log = fs.readFileSync(live.stack.pg.logFile, 'utf8').slice(logFrom);
    // The statement log was on (the idempotency lookups ran through it) ...
    expect(log).toMatch(/LOG:\s+(statement|execute [^:]*):.*powerhouse\.uploads/);
    // ... and the marker shows up only as a bound parameter's value, never in a statement's text.
    const offending = log.split('\n').filter((l) => l.includes(MARK) && /LOG:\s+(statement|execute)/.test(l));
    expect(offending).toEqual([]);
  });
});

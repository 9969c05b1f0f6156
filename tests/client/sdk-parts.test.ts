// The SDK's parts that need no server: backoff and Retry-After, the verdict on each HTTP answer, the spool
// that lets a one-shot source be sent again byte for byte, and finding the file line of a data row.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { SpooledSource } from '../../ingest/client/body-source';
import { BodySpool, type BodyChunk } from '../../ingest/client/body-spool';
import { freePort } from '../../stacks/local-processes/free-port';
import { uploadRows } from '../../ingest/client';
import { UploadRejectedError, UploadRowError, UploadUnavailableError } from '../../ingest/client/errors';
import { lineOfRow } from '../../ingest/client/file-row-line';
import { DEFAULT_RETRY, parseRetryAfter, retryDelayMs } from '../../ingest/client/retry-policy';
import { endpointUrl, judgeReply } from '../../ingest/client/send-upload';

describe('retry delays', () => {
  test('full jitter below the exponential ceiling; never shorter than Retry-After', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
        (failed, r, retryAfterMs) => {
          const d = retryDelayMs(DEFAULT_RETRY, failed, retryAfterMs, () => r);
          const ceiling = Math.min(DEFAULT_RETRY.maxDelayMs, DEFAULT_RETRY.baseDelayMs * 2 ** (failed - 1));
          expect(d).toBeGreaterThanOrEqual(retryAfterMs ?? 0);
          expect(d).toBeLessThanOrEqual(Math.max(ceiling, retryAfterMs ?? 0));
        },
      ),
    );
  });

  test('Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('what an answer means', () => {
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    body,
    headers,
  });

  test('201/200 done; 503/502/504/429 and 409 upload_in_progress retried with Retry-After', () => {
    expect(judgeReply(reply(201, { uploadId: 'x' })).kind).toBe('done');
    expect(judgeReply(reply(200, { replayed: true })).kind).toBe('done');
    expect(judgeReply(reply(503, { error: 'unavailable', message: 'busy' }, { 'retry-after': '5' }))).toEqual(
      {
        kind: 'retry',
        last: 'HTTP 503 unavailable: busy',
        retryAfterMs: 5000,
      },
    );
    for (const status of [502, 504, 429]) expect(judgeReply(reply(status, 'proxy page')).kind).toBe('retry');
    expect(judgeReply(reply(409, { error: 'upload_in_progress' })).kind).toBe('retry');
  });

  test('400 bad_row -> UploadRowError; anything else -> UploadRejectedError with status and body', () => {
    const bad = judgeReply(
      reply(400, { error: 'bad_row', row: 12, column: 'tm_id', message: 'row 12: nope' }),
    );
    expect(bad.kind === 'fail' && bad.error).toBeInstanceOf(UploadRowError);
    expect(bad.kind === 'fail' && bad.error).toMatchObject({ row: 12, column: 'tm_id', source: 'server' });
    for (const [status, body] of [
      [400, { error: 'bad_request', message: 'unknown column "x"' }],
      [401, { error: 'unauthorized' }],
      [409, { error: 'something_else' }],
      [413, { error: 'too_large', limit: 10 }],
      [422, { error: 'idempotency_key_reused' }],
      [500, { error: 'internal' }],
    ] as const) {
      const v = judgeReply(reply(status, body));
      expect(v.kind === 'fail' && v.error).toBeInstanceOf(UploadRejectedError);
      expect(v.kind === 'fail' && v.error).toMatchObject({ status, body, code: body.error });
    }
  });

  test('the endpoint may carry a path prefix', () => {
    expect(endpointUrl('https://h.example/ingest', 'v1/tables/t').href).toBe(
      'https://h.example/ingest/v1/tables/t',
    );
    expect(endpointUrl('http://127.0.0.1:8080/', 'v1/x').href).toBe('http://127.0.0.1:8080/v1/x');
    expect(() => endpointUrl('ftp://h', 'v1')).toThrow(/http:\/\/ or https:\/\//);
  });
});

describe('spooled body', () => {
  test('an attempt cut off midway, then a full one: the same bytes, the source read once, the file removed', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-test-'));
    let opened = 0;
    const chunks: Buffer[] = Array.from({ length: 10 }, (_, i) => Buffer.alloc(1000 + i, i));
    async function* produce(): AsyncGenerator<BodyChunk> {
      opened++;
      for (let i = 0; i < chunks.length; i++) yield { data: chunks[i], rows: (i + 1) * 7 };
    }
    const source = new SpooledSource(produce(), await BodySpool.create(parent));
    try {
      const first: BodyChunk[] = [];
      for await (const c of source.open()) {
        first.push(c);
        if (first.length === 4) break; // the connection died here
      }
      const second: BodyChunk[] = [];
      for await (const c of source.open()) second.push(c);
      expect(Buffer.concat(second.map((c) => c.data))).toEqual(Buffer.concat(chunks));
      expect(second.map((c) => c.rows)).toEqual(chunks.map((_, i) => (i + 1) * 7));
      expect(opened).toBe(1);
      const third: Buffer[] = [];
      for await (const c of source.open()) third.push(c.data);
      expect(Buffer.concat(third)).toEqual(Buffer.concat(chunks));
    } finally {
      await source.dispose();
    }
    expect(fs.readdirSync(parent)).toEqual([]);
    fs.rmSync(parent, { recursive: true });
  });
});

test("replay: 'none' on a one-shot source: no second attempt once rows were read, and the error says why", async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const rows = (function* () {
    for (let i = 0; i < 10; i++) yield [i, 'a'];
  })();
  const err = await uploadRows(url, 'token', 't', rows, {
    schema: {
      columns: [
        { name: 'n', type: 'bigint' },
        { name: 's', type: 'text' },
      ],
    },
    replay: 'none',
    retry: { maxAttempts: 5, baseDelayMs: 1 },
  }).catch((e) => e);
  expect(err).toBeInstanceOf(UploadUnavailableError);
  expect(err.attempts).toBe(1);
  expect(err.message).toMatch(/could be read only once and spooling was turned off/);
});

describe('file line of a data row', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'row-line-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  test('CSV: quoted line breaks stay in their record; header counted when present', async () => {
    const f = file('a.csv', 'a,b\n1,"x\ny"\n2,"say ""hi""\n\nthere"\n3,z\n');
    expect(await lineOfRow(f, 'csv', 1, true)).toBe(2);
    expect(await lineOfRow(f, 'csv', 2, true)).toBe(4);
    expect(await lineOfRow(f, 'csv', 3, true)).toBe(7);
    expect(await lineOfRow(f, 'csv', 4, true)).toBeUndefined();
    expect(await lineOfRow(f, 'csv', 1, false)).toBe(1);
  });

  test('CSV and TSV: CRLF and a lone CR end a line like LF (PostgreSQL takes all three)', async () => {
    for (const [name, eol] of [
      ['crlf', '\r\n'],
      ['cr', '\r'],
    ] as const) {
      const csv = file(`${name}.csv`, ['a,b', '1,"x' + eol + 'y"', '2,z', '3,w', ''].join(eol));
      expect([name, await lineOfRow(csv, 'csv', 1, true)]).toEqual([name, 2]);
      expect([name, await lineOfRow(csv, 'csv', 2, true)]).toEqual([name, 4]);
      expect([name, await lineOfRow(csv, 'csv', 3, true)]).toEqual([name, 5]);
      expect([name, await lineOfRow(csv, 'csv', 4, true)]).toEqual([name, undefined]);
      const tsv = file(`${name}.tsv`, ['a\tb', '1\tx', '2\ty', ''].join(eol));
      expect([name, await lineOfRow(tsv, 'tsv', 2, true)]).toEqual([name, 3]);
    }
  });

  test('TSV: a backslash escapes the next byte, even a line feed', async () => {
    const f = file('a.tsv', 'a\tb\n1\tx\\\ny\n2\t\\\\\n3\tz\n');
    expect(await lineOfRow(f, 'tsv', 1, true)).toBe(2);
    expect(await lineOfRow(f, 'tsv', 2, true)).toBe(4);
    expect(await lineOfRow(f, 'tsv', 3, true)).toBe(5);
  });

  test('NDJSON: blank and whitespace-only lines are not rows', async () => {
    const f = file('a.ndjson', '{"a":1}\n\n  \r\n{"a":2}\n{"a":3}');
    expect(await lineOfRow(f, 'ndjson', 1, false)).toBe(1);
    expect(await lineOfRow(f, 'ndjson', 2, false)).toBe(4);
    expect(await lineOfRow(f, 'ndjson', 3, false)).toBe(5);
    expect(await lineOfRow(f, 'ndjson', 4, false)).toBeUndefined();
  });
});

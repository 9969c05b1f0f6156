// The token and admin routes of docs/INGEST-API.md ("Tokens and administration"), over HTTP against workers on a
// real PostgreSQL 16 behind PgBouncer: every refusal the contract lists, the effect of add and revoke on the
// next request (no restart), a second worker on the same database picking changes up within its refresh, and
// the upload-record listing with its filters.
import type { IngestServer } from '../../ingest/server';
import { eventually, request, startIngestStack, TOKENS, upload, type IngestStack } from './stack';
import { stopAllTestServers } from '../harness';

/** The second worker's refresh, shortened from the default 15 s so the test takes seconds. */
const REFRESH_MS = 1000;
let stack: IngestStack;
let w: IngestServer;

beforeAll(async () => {
  stack = await startIngestStack();
  w = await stack.startWorker();
}, 60_000);

afterAll(async () => {
  await w?.close();
  await stopAllTestServers();
});

const admin = (path: string, opts: Parameters<typeof request>[2] = {}) =>
  request(w.url, path, { method: 'GET', token: TOKENS.admin, ...opts });
const add = (body: unknown, token = TOKENS.admin) =>
  request(w.url, '/v1/admin/tokens', {
    method: 'POST',
    token,
    contentType: 'application/json',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const csv = (rows: number, tag: string) =>
  'tm_id,source,target\n' + Array.from({ length: rows }, (_, i) => `5,${tag}${i},t`).join('\n') + '\n';

describe('GET /v1/whoami', () => {
  it('names the token and the tables it may write; 401 without a valid one', async () => {
    expect((await request(w.url, '/v1/whoami', { method: 'GET', token: TOKENS.tmOnly })).body).toEqual({
      token: 'tm-only',
      tables: ['tm_entries'],
    });
    const all = await request(w.url, '/v1/whoami', { method: 'GET', token: TOKENS.writer });
    expect(all.body.tables).toEqual(expect.arrayContaining(['tm_entries', 'file_rows', 'typed_rows']));
    const none = await request(w.url, '/v1/whoami', { method: 'GET', token: 'nope' });
    expect([none.status, none.body.error, none.headers['www-authenticate']]).toEqual([
      401,
      'unauthorized',
      'Bearer',
    ]);
    // The admin token is no upload token.
    expect((await request(w.url, '/v1/whoami', { method: 'GET', token: TOKENS.admin })).status).toBe(401);
  });
});

describe('admin token routes', () => {
  it('take the admin token only: 401 without, 403 for an upload token', async () => {
    for (const path of ['/v1/admin/tokens', '/v1/admin/uploads']) {
      expect((await request(w.url, path, { method: 'GET' })).status).toBe(401);
      expect((await request(w.url, path, { method: 'GET', token: TOKENS.writer })).status).toBe(403);
    }
    expect((await add({ name: 'x' }, TOKENS.writer)).status).toBe(403);
    expect((await request(w.url, '/v1/admin/tokens/x/revoke', { method: 'POST', token: 'bad' })).status).toBe(
      401,
    );
  });

  it('answer other methods with 405 and the methods of the path; an unknown admin path is 404', async () => {
    const put = await admin('/v1/admin/tokens', { method: 'PUT' });
    expect([put.status, put.headers.allow]).toEqual([405, 'GET, POST']);
    const get = await admin('/v1/admin/tokens/x/revoke');
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
    expect((await admin('/v1/admin/nothing')).status).toBe(404);
    expect((await admin('/v1/admin/tokens', { method: 'HEAD' })).status).toBe(200);
  });

  it('refuse a bad body, name or table with 400 saying what, and add nothing', async () => {
    const cases: [unknown, string | RegExp, string?][] = [
      ['not json', 'the request body is not valid JSON'],
      ['[1]', 'the request body must be a JSON object'],
      [{ tables: '*' }, 'name: a string is required'],
      [{ name: 'a b' }, 'token name: 1-64 characters of A-Z a-z 0-9 _ . : -'],
      [{ name: 'x'.repeat(65) }, 'token name: 1-64 characters'],
      [{ name: 'ok', tables: [] }, 'tables: "*" or a non-empty array of table names'],
      [
        { name: 'ok', tables: ['tm_entries', 'hidden'] },
        /tables: "hidden" not allowlisted \(tables: tm_entries, /,
      ],
      [{ name: 'ok', secret: 'x' }, 'unknown field "secret" (allowed: name, tables)'],
    ];
    for (const [body, message] of cases) {
      const r = await add(body);
      expect([r.status, r.body.error]).toEqual([400, 'bad_request']);
      expect(r.body.message).toEqual(
        typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
      );
    }
    const wrongType = await request(w.url, '/v1/admin/tokens', {
      method: 'POST',
      token: TOKENS.admin,
      contentType: 'text/plain',
      body: '{"name":"ok"}',
    });
    expect([wrongType.status, wrongType.body.message]).toEqual([
      400,
      expect.stringContaining('application/json'),
    ]);
    const big = await add({ name: 'ok', tables: ['x'.repeat(70_000)] });
    expect([big.status, big.body.error]).toEqual([413, 'too_large']);
    expect(await stack.sql('SELECT * FROM powerhouse.tokens')).toEqual([]);
  });

  it('add: the token works on the next request, limited to its tables; a name is taken once', async () => {
    const r = await add({ name: 'anna', tables: ['tm_entries'] });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      name: 'anna',
      tables: ['tm_entries'],
      source: 'admin',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      revokedAt: null,
      uploads: 0,
      lastUploadAt: null,
      token: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
    });
    const token = r.body.token as string;
    const up = await upload(w.url, 'tm_entries', 'csv', csv(20, 'anna'), { token });
    expect(up.status).toBe(201);
    expect((await upload(w.url, 'file_rows', 'csv', 'file_id,row_num\n1,1\n', { token })).status).toBe(403);
    for (const name of ['anna', 'writer']) {
      const again = await add({ name });
      expect([again.status, again.body.error]).toEqual([409, 'token_exists']);
    }
  });

  it('revoke: the next request is 401; again answers the first revocation; unknown is 404', async () => {
    const made = await add({ name: 'bob' });
    const token = made.body.token as string;
    expect((await upload(w.url, 'tm_entries', 'csv', csv(1, 'bob'), { token })).status).toBe(201);
    const r = await request(w.url, '/v1/admin/tokens/bob/revoke', { method: 'POST', token: TOKENS.admin });
    expect([r.status, r.body.name, r.body.revokedAt]).toEqual([200, 'bob', expect.stringMatching(/^\d{4}-/)]);
    expect((await upload(w.url, 'tm_entries', 'csv', csv(1, 'bob2'), { token })).status).toBe(401);
    const again = await request(w.url, '/v1/admin/tokens/bob/revoke', {
      method: 'POST',
      token: TOKENS.admin,
    });
    expect(again.body.revokedAt).toBe(r.body.revokedAt);
    const gone = await request(w.url, '/v1/admin/tokens/nobody/revoke', {
      method: 'POST',
      token: TOKENS.admin,
    });
    expect([gone.status, gone.body.error]).toEqual([404, 'unknown_token']);
    const reuse = await add({ name: 'bob' });
    expect([reuse.status, reuse.body.message]).toEqual([
      409,
      expect.stringMatching(/was revoked at .* names are not reused/),
    ]);
  });

  it('a second worker on the same database takes a change within its refresh, without a restart', async () => {
    const w2 = await stack.startWorker({}, { tokenRefreshMs: REFRESH_MS });
    try {
      const made = await add({ name: 'carla' });
      const token = made.body.token as string;
      const t0 = Date.now();
      const seen = (status: number) => async () =>
        (await request(w2.url, '/v1/whoami', { method: 'GET', token })).status === status || undefined;
      const tries = (REFRESH_MS + 5000) / 10;
      await eventually(seen(200), tries);
      await request(w.url, '/v1/admin/tokens/carla/revoke', { method: 'POST', token: TOKENS.admin });
      await eventually(seen(401), tries);
      expect(Date.now() - t0).toBeLessThan(2 * (REFRESH_MS + 5000));
    } finally {
      await w2.close();
    }
  }, 60_000);

  it('list: config tokens first, then made ones, with upload counts', async () => {
    const r = await admin('/v1/admin/tokens');
    const list = r.body.tokens as {
      name: string;
      source: string;
      uploads: number;
      revokedAt: string | null;
    }[];
    expect(list.map((t) => t.name)).toEqual(['writer', 'tm-only', 'other', 'anna', 'bob', 'carla']);
    expect(list.find((t) => t.name === 'anna')).toMatchObject({
      source: 'admin',
      uploads: 1,
      revokedAt: null,
    });
    expect(list.find((t) => t.name === 'bob')).toMatchObject({ uploads: 1, revokedAt: expect.any(String) });
    expect(list.find((t) => t.name === 'writer')).toMatchObject({ source: 'config', tables: '*' });
  });
});

describe('GET /v1/admin/uploads', () => {
  it('lists records newest first, filtered by token, table, status, since and limit', async () => {
    await upload(w.url, 'tm_entries', 'csv', 'tm_id,source,target\nx,1,2\n', { token: TOKENS.writer });
    const all = await admin('/v1/admin/uploads');
    const uploads = all.body.uploads as {
      token: string;
      status: string;
      finishedAt: string;
      error?: { error: string };
    }[];
    expect(all.body.limit).toBe(100);
    const times = uploads.map((u) => u.finishedAt);
    expect([...times].sort().reverse()).toEqual(times);
    const anna = await admin('/v1/admin/uploads?token=anna&table=tm_entries&since=1h');
    expect((anna.body.uploads as { rows: number; token: string }[]).map((u) => [u.token, u.rows])).toEqual([
      ['anna', 20],
    ]);
    const failed = await admin('/v1/admin/uploads?status=failed&limit=1');
    expect(failed.body.uploads).toEqual([
      expect.objectContaining({
        token: 'writer',
        status: 'failed',
        rows: 0,
        error: expect.objectContaining({ error: 'bad_row', row: 1 }),
      }),
    ]);
    const later = await admin(
      `/v1/admin/uploads?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(later.body.uploads).toEqual([]);
  });

  it('refuses unknown parameters and bad values with 400', async () => {
    for (const [q, message] of [
      ['since=yesterday', 'since: a duration'],
      ['since=2026-12-01T10:00:00', 'since: a duration'],
      ['status=ok', 'status: committed or failed'],
      ['limit=0', 'limit: a whole number from 1 to 1000'],
      ['limit=1001', 'limit: a whole number from 1 to 1000'],
      ['user=anna', 'unknown query parameter "user"'],
    ]) {
      const r = await admin(`/v1/admin/uploads?${q}`);
      expect([r.status, r.body.message]).toEqual([400, expect.stringContaining(message)]);
    }
  });
});

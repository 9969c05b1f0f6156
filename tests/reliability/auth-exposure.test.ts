// Auth and exposure on the running stack: who gets 401/403/404, that one token never sees another's uploads,
// that the time to refuse a token does not depend on how much of it was right (measured, with a positive
// control proving the measurement would catch a leak), and that no token or password ever reaches a log,
// a response body or the metrics, not even while the database is failing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { APP_POOL_DB, DATABASE, ROLES } from '../../config-templates';
import { TokenVerifier } from '../../ingest/auth';
import { hashToken } from '../../ingest/config';
import { answered, getJson, sleep, upload, uploadUntilAnswered } from './http-client';
import { countFile, fileRowsNdjson } from './file-rows';
import { startLiveStack, type LiveStack } from './live-stack';
import { compareToBaseline, differing, interleavedTrials, summarize, type Samples } from './timing-stats';
import type { LocalSecrets } from '../../stacks/local-processes/stack';

jest.setTimeout(180_000);

let live: LiveStack;
const TM_ONLY = randomBytes(24).toString('base64url');
const figures: Record<string, string> = {};

beforeAll(async () => {
  live = await startLiveStack({ users: 4, extraTokens: 2, logLevel: 'trace' });
  await live.reconfigureWorker((c) => ({
    ...c,
    tokens: [...c.tokens, { id: 'tm-only', sha256: hashToken(TM_ONLY), tables: ['tm_entries'] }],
  }));
}, 120_000);

afterAll(async () => {
  await live?.stop();
  console.log(
    `auth timing:\n${Object.entries(figures)
      .map(([k, v]) => `${k}:\n${v}`)
      .join('\n')}`,
  );
});

/** A token of the same length with the characters from `from` on replaced (cycled, so never equal). */
function spoil(token: string, from: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let out = token.slice(0, from);
  for (let i = from; i < token.length; i++)
    out += alphabet[(alphabet.indexOf(token[i]) + 7) % alphabet.length];
  return out;
}

describe('who may do what', () => {
  const body = fileRowsNdjson(7001, 3);

  it('401 without a token, with a wrong or near-miss token, or another scheme; the body says nothing else', async () => {
    const t = live.token;
    const cases: Record<string, string>[] = [
      {},
      { Authorization: `Bearer ${spoil(t, 0)}` },
      { Authorization: `Bearer ${spoil(t, t.length - 1)}` },
      { Authorization: `Bearer ${t}x` },
      { Authorization: `Bearer ${t.slice(0, -1)}` },
      { Authorization: `Basic ${Buffer.from(`x:${t}`).toString('base64')}` },
      { Authorization: `Token ${t}` },
      { Authorization: `Bearer ${live.stack.adminToken}` }, // the admin token is not an upload token
    ];
    for (const headers of cases) {
      const res = answered(await upload(live.url, 'file_rows', 'ndjson', body, { headers }));
      expect(res.status).toBe(401);
      expect(res.text).toBe('{"error":"unauthorized"}');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    expect(await countFile(live, 7001)).toEqual({ rows: 0, distinct: 0 });
  });

  it('403 for a table the token may not write; 404 for a table outside the allowlist before any permission check', async () => {
    const forbidden = answered(await upload(live.url, 'file_rows', 'ndjson', body, { token: TM_ONLY }));
    expect(forbidden.status).toBe(403);
    expect(forbidden.text).toBe('{"error":"forbidden"}');
    const unknown = answered(await upload(live.url, 'pg_authid', 'ndjson', body, { token: TM_ONLY }));
    expect(unknown.status).toBe(404);
    const allowed = answered(
      await upload(live.url, 'tm_entries', 'ndjson', '{"tm_id":7001,"source":"s","target":"t"}\n', {
        token: TM_ONLY,
      }),
    );
    expect(allowed.status).toBe(201);
    expect(await countFile(live, 7001)).toEqual({ rows: 0, distinct: 0 });
  });

  it('the admin route: 401 without a token, 403 with an upload token, 200 with the admin token (and no secrets in it)', async () => {
    expect((await getJson(live.url, '/v1/admin/pgbouncer')).status).toBe(401);
    expect((await getJson(live.url, '/v1/admin/pgbouncer', spoil(live.stack.adminToken, 5))).status).toBe(
      401,
    );
    expect((await getJson(live.url, '/v1/admin/pgbouncer', live.token)).status).toBe(403);
    expect((await getJson(live.url, '/v1/admin/pgbouncer', TM_ONLY)).status).toBe(403);
    const ok = await getJson(live.url, '/v1/admin/pgbouncer', live.stack.adminToken);
    expect(ok.status).toBe(200);
    expect(Array.isArray(ok.body.pools)).toBe(true);
    expectNoSecrets(ok.text, 'the admin route');
  });

  it("one token never sees or replays another token's uploads, even with the same Idempotency-Key", async () => {
    const [alice, bob] = live.stack.tokens;
    const key = 'shared-key-1';
    const a = answered(
      await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(7002, 5), { token: alice, key }),
    );
    expect(a.status).toBe(201);
    const id = a.body.uploadId as string;
    expect((await getJson(live.url, `/v1/uploads/${id}`, alice)).status).toBe(200);
    expect((await getJson(live.url, `/v1/uploads/${id}`, bob)).status).toBe(404);
    expect((await getJson(live.url, `/v1/uploads?idempotencyKey=${key}`, bob)).status).toBe(404);
    // Bob's upload with the same key and another body is his own: stored, not a 422 or a replay of Alice's.
    const b = answered(
      await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(7003, 2), { token: bob, key }),
    );
    expect(b.status).toBe(201);
    expect(b.body.uploadId).not.toBe(id);
    expect(await countFile(live, 7002)).toEqual({ rows: 5, distinct: 5 });
    expect(await countFile(live, 7003)).toEqual({ rows: 2, distinct: 2 });
  });

  it('the deployed configs refuse logins without a password, with a wrong one and as an md5 user (PgBouncer and PostgreSQL)', async () => {
    const pgPort = live.stack.pg.port;
    const bouncerPort = live.stack.bouncer!.port;
    await live.sql(`SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD 'md5secret'`);
    const psql = (port: number, user: string, db: string, password?: string): string => {
      try {
        execFileSync(
          'psql',
          ['-w', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', db, '-c', 'SELECT 1'],
          {
            env: { PATH: process.env.PATH, ...(password !== undefined ? { PGPASSWORD: password } : {}) },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        return 'connected';
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr);
      }
    };
    // -w: never prompt. "no password supplied" means the server asked for one.
    expect(psql(bouncerPort, ROLES.app, APP_POOL_DB)).toMatch(/no password supplied/);
    expect(psql(pgPort, ROLES.superuser, DATABASE)).toMatch(/no password supplied/);
    expect(psql(bouncerPort, ROLES.app, APP_POOL_DB, 'wrong')).toMatch(/authentication failed/);
    expect(psql(pgPort, 'md5_user', DATABASE, 'md5secret')).toMatch(/password authentication failed/);
    expect(psql(bouncerPort, 'md5_user', APP_POOL_DB, 'md5secret')).toMatch(
      /authentication failed|no such user/,
    );
  });
});

describe('refusing a token takes as long however much of it was right', () => {
  const TOLERANCE = 0.1;

  /** A 401 from the worker for a bearer value (GET describe: authentication is all it does first). */
  const probe = (base: string, path: string, authorization?: string) => async () => {
    const res = await fetch(base + path, authorization ? { headers: { Authorization: authorization } } : {});
    await res.arrayBuffer();
    if (res.status !== 401) throw new Error(`expected 401, got ${res.status}`);
  };

  function classesFor(base: string, path: string, token: string) {
    return {
      random: probe(base, path, `Bearer ${spoil(token, 0)}`),
      'first character wrong': probe(base, path, `Bearer ${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`),
      'first half right': probe(base, path, `Bearer ${spoil(token, token.length >> 1)}`),
      'all but the last right': probe(base, path, `Bearer ${spoil(token, token.length - 1)}`),
    };
  }

  async function measure(
    name: string,
    classes: Record<string, () => unknown>,
    rounds: number,
  ): Promise<Samples> {
    for (const run of Object.values(classes)) for (let i = 0; i < 20; i++) await run(); // warm up JIT and sockets
    const samples = await interleavedTrials(classes, rounds, 20261126);
    figures[name] = summarize(samples, 'random');
    return samples;
  }

  it('upload tokens and the admin token, through the worker over HTTP (300 interleaved rounds)', async () => {
    const upload = await measure(
      'worker, upload token',
      classesFor(live.url, '/v1/tables/tm_entries', live.token),
      300,
    );
    expect(differing(compareToBaseline(upload, 'random'), TOLERANCE)).toEqual([]);
    const admin = await measure(
      'worker, admin token',
      classesFor(live.url, '/v1/admin/pgbouncer', live.stack.adminToken),
      300,
    );
    expect(differing(compareToBaseline(admin, 'random'), TOLERANCE)).toEqual([]);
  });

  it('TokenVerifier in-process (2000 rounds of 50 calls: µs-level resolution)', async () => {
    const tokens = Array.from({ length: 20 }, () => randomBytes(24).toString('base64url'));
    const verifier = new TokenVerifier(
      tokens.map((t, i) => ({ id: `t${i}`, sha256: hashToken(t), tables: '*' as const })),
    );
    const target = tokens[13];
    const batch = (bearer: string) => () => {
      for (let i = 0; i < 50; i++)
        if (verifier.authenticate(bearer)) throw new Error('accepted a wrong token');
    };
    const samples = await measure(
      'TokenVerifier, 50 calls',
      {
        random: batch(`Bearer ${spoil(target, 0)}`),
        'first half right': batch(`Bearer ${spoil(target, target.length >> 1)}`),
        'all but the last right': batch(`Bearer ${spoil(target, target.length - 1)}`),
      },
      2000,
    );
    expect(differing(compareToBaseline(samples, 'random'), TOLERANCE)).toEqual([]);
  });

  it('positive control: the same measurement flags a comparison that leaks how many characters matched', async () => {
    // An early-exit comparison that costs ~10 µs per matching character: the kind of leak the test is for.
    const secret = randomBytes(24).toString('base64url');
    const leaky = (presented: string): boolean => {
      for (let i = 0; i < secret.length; i++) {
        if (presented[i] !== secret[i]) return false;
        const until = process.hrtime.bigint() + 10_000n;
        while (process.hrtime.bigint() < until); // work per matched character
      }
      return timingSafeEqual(Buffer.from(presented), Buffer.from(secret));
    };
    const server = http.createServer((req, res) => {
      const ok = leaky((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      res.writeHead(ok ? 200 : 401).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const samples = await measure('positive control (leaky server)', classesFor(base, '/', secret), 150);
      const flagged = differing(compareToBaseline(samples, 'random'), TOLERANCE).map((c) => c.name);
      expect(flagged).toEqual(expect.arrayContaining(['first half right', 'all but the last right']));
    } finally {
      server.close();
    }
  });
});

// --- Secrets never leave.

function allSecrets(): Record<string, string> {
  const s = JSON.parse(
    fs.readFileSync(path.join(live.stack.dataDir, 'secrets.json'), 'utf8'),
  ) as LocalSecrets;
  return {
    ...s.secrets,
    'tm-only token': TM_ONLY,
    ...Object.fromEntries(s.userTokens.map((t, i) => [`user token ${i + 1}`, t])),
  };
}

/** No secret, and no 12-character piece of one (a near-miss token is almost the whole token), in `text`. */
function expectNoSecrets(text: string, where: string): void {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(allSecrets())) {
    for (let i = 0; i + 12 <= secret.length; i++) {
      if (text.includes(secret.slice(i, i + 12))) {
        found.push(`${name} (characters ${i}-${i + 11}) in ${where}`);
        break;
      }
    }
  }
  expect(found).toEqual([]);
}

describe('no token or password in logs, responses or metrics', () => {
  it('while the database is unreachable: 503s and /readyz say so without a credential', async () => {
    const bouncer = live.stack.bouncer!;
    await bouncer.kill();
    try {
      const res = answered(
        await upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(7004, 3), { token: live.token }),
      );
      expect(res.status).toBe(503);
      expectNoSecrets(res.text, 'a 503 body');
      const ready = await getJson(live.url, '/readyz');
      expect(ready.status).toBe(503);
      expectNoSecrets(ready.text, '/readyz');
      const admin = await getJson(live.url, '/v1/admin/pgbouncer', live.stack.adminToken);
      expect(admin.status).toBe(503);
      expectNoSecrets(admin.text, 'the admin route while PgBouncer is down');
    } finally {
      await bouncer.restart();
    }
    await uploadUntilAnswered(() =>
      upload(live.url, 'file_rows', 'ndjson', fileRowsNdjson(7005, 3), { token: live.token }),
    );
  });

  it('the worker log (at trace level), the PgBouncer and PostgreSQL logs, and /metrics hold none of them', async () => {
    await sleep(200); // let the child flush its last lines
    const workerLog = live.workerLog();
    expect(workerLog).toMatch(/"status":401/); // the log did record the refused requests …
    expect(workerLog).toMatch(/"authorization":"\[redacted\]"/); // … with the header redacted
    expectNoSecrets(workerLog, 'the worker log');
    expectNoSecrets(fs.readFileSync(live.stack.bouncer!.logFile, 'utf8'), 'the PgBouncer log');
    expectNoSecrets(fs.readFileSync(live.stack.pg.logFile, 'utf8'), 'the PostgreSQL log');
    expectNoSecrets((await getJson(live.url, '/metrics')).text, '/metrics');
    expectNoSecrets(
      fs
        .readFileSync(path.join(live.stack.dataDir, 'ingest.json'), 'utf8')
        .replace(/postgresql:\/\/[^"]+/g, ''),
      'ingest.json (URLs aside)',
    );
  });
});

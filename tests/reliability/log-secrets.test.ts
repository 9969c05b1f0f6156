// Every log of the stack, searched for what must never be in a log: `npm start` (the real command, in its own
// process group like a terminal's foreground job) with and without PgBouncer, driven through its paths (start,
// good uploads in every text format, replays, 400/401/413/415/422/409/503, a vanished client, lookups, the
// admin route, Ctrl-C with an upload in flight), then every *.log under its data dir (ingest.log, PgBouncer's,
// PostgreSQL's) and its stdout/stderr are searched for: every secret of secrets.json and every 12-character
// piece of one, the SCRAM verifiers and their parts, a connection's `processID`/`secretKey` (the backend's
// cancel key), a dumped node-postgres client, and any postgres(ql):// URL with a password in it.
//
// Positive controls: the same search flags a planted piece of a secret in a nested log file, and the real
// leak this test was written for — pg-pool's idle-connection error (it carries the whole client, cancel key
// included) logged with pino's standard serializer — while the worker's logger writes the same error clean.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, Pool } from 'pg';
import pino from 'pino';
import { DATABASE, ROLES, dsn } from '../../config-templates';
import { createLogger } from '../../ingest/logger';
import { findPgBouncer } from '../../stacks/local-processes/pgbouncer-process';
import type { LocalSecrets } from '../../stacks/local-processes/stack';
import { fileRowsBody, fileRowsNdjson } from './file-rows';
import { answered, getJson, isDropped, openUpload, sleep, upload, type OpenUpload } from './http-client';
import { processAlive } from './live-stack';

jest.setTimeout(240_000);

const root = path.resolve(__dirname, '../..');
/** A wait that does not keep the test process alive. */
const timeout = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
const BANNER_END = 'Ctrl-C stops everything.';

// --- The search.

interface Needle {
  name: string;
  value: string;
}

interface Finding {
  where: string;
  /** The needle's name (and which 12 characters of it), or the pattern's description. */
  what: string;
  /** The line around a pattern's match. */
  excerpt?: string;
}

/** Every secret of secrets.json, and each SCRAM verifier whole and by its salt, StoredKey and ServerKey. */
function needlesOf(s: LocalSecrets): Needle[] {
  const needles: Needle[] = [
    ...Object.entries(s.secrets).map(([name, value]) => ({ name, value })),
    ...s.userTokens.map((value, i) => ({ name: `user token ${i + 1}`, value })),
  ];
  for (const [role, verifier] of Object.entries(s.verifiers)) {
    if (!verifier) continue;
    needles.push({ name: `${role} SCRAM verifier`, value: verifier });
    // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
    const m = /^SCRAM-SHA-256\$\d+:([^$]+)\$([^:]+):(.+)$/.exec(verifier);
    if (!m) throw new Error(`${role}: not a SCRAM verifier`);
    needles.push(
      { name: `${role} verifier salt`, value: m[1] },
      { name: `${role} verifier StoredKey`, value: m[2] },
      { name: `${role} verifier ServerKey`, value: m[3] },
    );
  }
  return needles;
}

const PATTERNS: { what: string; re: RegExp }[] = [
  {
    what: 'a connection cancel key field (processID/secretKey)',
    re: /\b(processID|secretKey)\b["']?\s*[:=]/,
  },
  {
    what: 'a dumped node-postgres client',
    re: /\bconnectionParameters\b|"_queryQueue"|\b_connectionTimeoutMillis\b/,
  },
  { what: 'a SCRAM verifier', re: /SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$/ },
  // A password, not a placeholder (`***` from redactDsn, `[redacted]` from the worker's logger).
  {
    what: 'a postgres(ql):// URL with a password',
    re: /\bpostgres(?:ql)?:\/\/[^\s:/@"'`]*:(?!\*+@|\[redacted\]@)[^\s@"'`]+@/i,
  },
];

function search(text: string, where: string, needles: Needle[]): Finding[] {
  const found: Finding[] = [];
  for (const { name, value } of needles) {
    for (let i = 0; i + 12 <= value.length; i++) {
      if (text.includes(value.slice(i, i + 12))) {
        found.push({ where, what: `${name} (characters ${i}-${i + 11})` });
        break;
      }
    }
  }
  for (const { what, re } of PATTERNS) {
    const m = re.exec(text);
    if (m) {
      const at = m.index;
      const line = text.slice(text.lastIndexOf('\n', at) + 1, at + 80).slice(0, 200);
      found.push({ where, what, excerpt: line });
    }
  }
  return found;
}

/** Every *.log file under `dir`, by path relative to it. */
function logFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.log'))
        out.set(path.relative(dir, p), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

// --- `npm start`, as a terminal runs it.

interface NpmStart {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function npmStart(dataDir: string, extra: string[]): Promise<NpmStart> {
  const child = spawn(
    'npm',
    ['start', '--', '--data-dir', dataDir, '--port', '0', '--bouncer-port', '0', '--users', '4', ...extra],
    { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started: NpmStart = { child, stdout: () => out, stderr: () => err, exited };
  running.push(started);
  const deadline = Date.now() + 120_000;
  while (!out.includes(BANNER_END)) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`npm start did not get ready:\n${out}\n${err}`);
    await sleep(100);
  }
  return started;
}

const field = (out: string, label: string) => new RegExp(`^${label}\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '';

/** What this file started; stopped (as Ctrl-C would, then harder) if a test failed before its own stop. */
const running: NpmStart[] = [];
const serverPids: number[] = [];
const dataDirs: string[] = [];

afterAll(async () => {
  for (const r of running) {
    if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
    process.kill(-r.child.pid!, 'SIGINT');
    const gone = await Promise.race([r.exited.then(() => true), timeout(60_000).then(() => false)]);
    if (!gone) process.kill(-r.child.pid!, 'SIGKILL');
  }
  for (const pid of serverPids)
    if (processAlive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL'); // the servers lead their own process groups
      } catch {
        process.kill(pid, 'SIGKILL');
      }
    }
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
});

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

/** Waits until the upload with this key is in `state` (as GET /v1/uploads?idempotencyKey= shows it). */
async function until(url: string, token: string, key: string, state: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await getJson(url, `/v1/uploads?idempotencyKey=${key}`, token)).body.state !== state) {
    if (Date.now() > deadline) throw new Error(`upload ${key} never got to ${state}`);
    await sleep(20);
  }
}

/** An upload left open after its first rows, once the worker shows it receiving. */
async function held(
  url: string,
  token: string,
  key: string,
  fileId: number,
): Promise<OpenUpload & { rest: string[] }> {
  const [first, ...rest] = fileRowsNdjson(fileId, 40, 1, 10);
  const u = openUpload(url, 'file_rows', 'ndjson', { token, key });
  await u.write(first);
  await until(url, token, key, 'receiving');
  return Object.assign(u, { rest });
}

async function finish(u: OpenUpload & { rest: string[] }): Promise<number> {
  for (const piece of u.rest) await u.write(piece);
  u.end();
  return answered(await u.outcome).status;
}

const withBouncer = findPgBouncer() !== null;

describe.each([
  ['with PgBouncer', true],
  ['without PgBouncer (--no-pgbouncer)', false],
])('npm start %s', (_label, bouncer) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-logs-'));
  dataDirs.push(dataDir);
  const statuses: Record<string, number | string> = {};
  const observed: Record<string, unknown> = {};
  let npm: NpmStart;
  let secrets: LocalSecrets;
  let banner = '';
  let pids: number[] = [];
  let control: { standard: string; worker: string; error: unknown } | undefined;

  beforeAll(async () => {
    if (bouncer && !withBouncer) throw new Error('PgBouncer is not installed: apt-get install -y pgbouncer');
    npm = await npmStart(dataDir, ['--log-level', 'trace', ...(bouncer ? [] : ['--no-pgbouncer'])]);
    banner = npm.stdout();
    pids = [...banner.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    serverPids.push(...pids.slice(0, -1)); // PostgreSQL (and PgBouncer); the last is the worker (npm's child)
    secrets = JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as LocalSecrets;
    const url = field(banner, 'ingest worker');
    const token = field(banner, 'token');
    const admin = secrets.secrets.admin_token;
    const note = (label: string, status: number | string) => (statuses[label] = status);
    /** Notes an upload's status (its body too when it is an error, to say why in the summary line). */
    const sent = async (label: string, p: ReturnType<typeof upload>) => {
      const o = await p;
      if (!isDropped(o) && o.status >= 400) observed[label] = o.body;
      note(label, isDropped(o) ? `dropped: ${o.dropped}` : o.status);
    };

    note('healthz', (await getJson(url, '/healthz')).status);
    note('readyz', (await getJson(url, '/readyz')).status);
    note('metrics', (await getJson(url, '/metrics')).status);
    note('describe', (await getJson(url, '/v1/tables/file_rows', token)).status);

    let id = 9100;
    const first = answered(
      await upload(url, 'file_rows', 'ndjson', fileRowsNdjson(id, 20), { token, key: 'logs-1' }),
    );
    note('201 ndjson', first.status);
    for (const format of ['csv', 'tsv', 'pgcopy'] as const) {
      const { pieces, columns } = fileRowsBody(format, ++id, 20);
      await sent(`201 ${format}`, upload(url, 'file_rows', format, pieces, { token, columns }));
    }
    await sent(
      '200 replay',
      upload(url, 'file_rows', 'ndjson', fileRowsNdjson(9100, 20), { token, key: 'logs-1' }),
    );
    await sent(
      '422 key reused',
      upload(url, 'file_rows', 'ndjson', fileRowsNdjson(9100, 21), { token, key: 'logs-1' }),
    );
    await sent('400 bad_row', upload(url, 'file_rows', 'ndjson', '{"file_id": 1, x}\n', { token }));
    await sent('400 bad_request', upload(url, 'file_rows', 'ndjson', '{}\n', { token, columns: 'nope' }));
    const nearMiss = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    await sent('401 near-miss token', upload(url, 'file_rows', 'ndjson', '{}\n', { token: nearMiss }));
    await sent('401 admin token', upload(url, 'file_rows', 'ndjson', '{}\n', { token: admin }));
    await sent('401 no token', upload(url, 'file_rows', 'ndjson', '{}\n'));
    const declared = openUpload(url, 'file_rows', 'ndjson', {
      token,
      headers: { 'Content-Length': '3000000000' },
    });
    note('413 Content-Length', answered(await declared.outcome).status);
    declared.abort();
    await sent('415', upload(url, 'file_rows', 'ndjson', '{}\n', { token, contentType: 'text/plain' }));

    const a = await held(url, token, 'logs-409', ++id);
    await sent(
      '409 same key running',
      upload(url, 'file_rows', 'ndjson', fileRowsNdjson(id, 5), { token, key: 'logs-409' }),
    );
    const b = await held(url, token, 'logs-503', ++id); // the token's second slot (users 4: 2 per token)
    await sent('503 slots taken', upload(url, 'file_rows', 'ndjson', fileRowsNdjson(++id, 5), { token }));
    note('201 after 409', await finish(a));
    note('201 after 503', await finish(b));

    const vanishing = await held(url, token, 'logs-vanish', ++id);
    vanishing.abort();
    await until(url, token, 'logs-vanish', 'failed');
    note('upload by id', (await getJson(url, `/v1/uploads/${first.body.uploadId}`, token)).status);
    note('upload by key', (await getJson(url, '/v1/uploads?idempotencyKey=logs-1', token)).status);
    note('upload lookup without a key', (await getJson(url, '/v1/uploads', token)).status);
    note('admin route', (await getJson(url, '/v1/admin/pgbouncer', admin)).status);
    note('admin route, upload token', (await getJson(url, '/v1/admin/pgbouncer', token)).status);

    // Positive control from the live database: an idle pooled connection whose backend is terminated.
    const pgPort = Number(/^PostgreSQL 16\s+127\.0\.0\.1:(\d+)/m.exec(banner)?.[1]);
    const superUrl = dsn({
      host: '127.0.0.1',
      port: pgPort,
      user: ROLES.superuser,
      password: secrets.secrets.superuser_password,
      database: DATABASE,
    });
    const pool = new Pool({ connectionString: superUrl, max: 1 });
    const idleError = new Promise<Error>((resolve) => pool.once('error', resolve));
    const c = await pool.connect();
    const backend = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    c.release();
    const killer = new Client({ connectionString: superUrl });
    await killer.connect();
    await killer.query('SELECT pg_terminate_backend($1)', [backend]);
    await killer.end();
    const error = await idleError;
    await pool.end();
    const standard = new Capture();
    pino({}, standard).warn({ err: error }, 'idle database connection failed');
    const worker = new Capture();
    createLogger('info', worker).warn({ err: error }, 'idle database connection failed');
    control = { standard: standard.text, worker: worker.text, error };

    // Ctrl-C with an upload in flight: the worker drains, the upload still commits, everything stops.
    const inFlight = await held(url, token, 'logs-ctrl-c', ++id);
    const logFile = path.join(dataDir, 'ingest.log');
    const logBefore = fs.readFileSync(logFile, 'utf8').length;
    process.kill(-npm.child.pid!, 'SIGINT');
    const draining = Date.now() + 20_000;
    while (
      !fs.readFileSync(logFile, 'utf8').slice(logBefore).includes('shutting down: waiting for uploads')
    ) {
      if (Date.now() > draining) throw new Error('the worker never logged that it is draining');
      await sleep(20);
    }
    note('201 finished during Ctrl-C', await finish(inFlight));
    const code = await Promise.race([npm.exited, timeout(90_000).then(() => 'still running')]);
    const stopDeadline = Date.now() + 30_000;
    while (pids.some(processAlive) && Date.now() < stopDeadline) await sleep(100);
    observed.exitCode = code;
    observed.alive = pids.filter(processAlive);
    observed.stoppedPrinted = npm.stdout().includes('stopped.');
    observed.warnLines = (fs.readFileSync(logFile, 'utf8').match(/"level":40/g) ?? []).length;
  });

  afterAll(() => {
    console.log(
      `npm start ${bouncer ? 'with' : 'without'} PgBouncer: ${JSON.stringify({ statuses, observed })}`,
    );
  });

  it('went through every path: good uploads, replays, each error status, a vanished client, lookups, Ctrl-C', () => {
    expect(statuses).toEqual({
      healthz: 200,
      readyz: 200,
      metrics: 200,
      describe: 200,
      '201 ndjson': 201,
      '201 csv': 201,
      '201 tsv': 201,
      '201 pgcopy': 201,
      '200 replay': 200,
      '422 key reused': 422,
      '400 bad_row': 400,
      '400 bad_request': 400,
      '401 near-miss token': 401,
      '401 admin token': 401,
      '401 no token': 401,
      '413 Content-Length': 413,
      '415': 415,
      '409 same key running': 409,
      '503 slots taken': 503,
      '201 after 409': 201,
      '201 after 503': 201,
      'upload by id': 200,
      'upload by key': 200,
      'upload lookup without a key': 400,
      'admin route': bouncer ? 200 : 503, // without PgBouncer there is no console to show
      'admin route, upload token': 403,
      '201 finished during Ctrl-C': 201,
    });
    expect(pids).toHaveLength(bouncer ? 3 : 2);
    expect(observed.alive).toEqual([]); // Ctrl-C stopped PostgreSQL, PgBouncer and the worker
  });

  it('no log and no output after the banner holds a secret, a piece of one, a verifier, a cancel key or a DSN with a password', () => {
    const needles = needlesOf(secrets);
    const logs = logFiles(dataDir);
    // The logs the stack writes are all there (and say something), so an empty search cannot pass.
    expect([...logs.keys()].sort()).toEqual(
      [
        'ingest.log',
        path.join('postgres', 'postgres.log'),
        ...(bouncer ? [path.join('pgbouncer', 'pgbouncer.log')] : []),
      ].sort(),
    );
    const ingestLog = logs.get('ingest.log')!;
    expect(ingestLog).toMatch(/"status":401/);
    expect(ingestLog).toMatch(/"authorization":"\[redacted\]"/);
    expect(ingestLog).toMatch(/"msg":"upload failed; rolled back"/);
    expect(ingestLog).toMatch(/"msg":"ingest worker stopped"/);
    const found = [...logs].flatMap(([file, text]) => search(text, file, needles));
    const out = npm.stdout();
    const cut = out.indexOf(BANNER_END) + BANNER_END.length;
    found.push(...search(out.slice(cut), 'stdout after the banner', needles));
    found.push(...search(npm.stderr(), 'stderr', needles));
    expect(found).toEqual([]);
  });

  it('the banner hands over the ingest token and the app role DSN, and nothing else secret', () => {
    // `npm start` prints them for the user on purpose (curl example, psql line); the other roles' passwords,
    // the admin token and the verifiers never.
    const inBanner = search(banner.slice(0, banner.indexOf(BANNER_END)), 'banner', needlesOf(secrets)).map(
      (f) => f.what.replace(/ \(characters \d+-\d+\)$/, ''),
    );
    const allowed = ['ingest_token', 'app_password', 'a postgres(ql):// URL with a password'];
    expect(inBanner.filter((w) => !allowed.includes(w))).toEqual([]);
    for (const m of banner.matchAll(/postgres(?:ql)?:\/\/([^:/@\s]+):[^@\s]+@/g))
      expect(m[1]).toBe(ROLES.app);
  });

  it('positive controls: a planted piece of a secret in a nested log, and the pg-pool leak through pino, are found; the worker logger writes the same error clean', () => {
    const needles = needlesOf(secrets);
    // The search and the file walk find a 12-character piece of a secret in a nested *.log.
    const planted = path.join(dataDir, 'control', 'nested', 'planted.log');
    fs.mkdirSync(path.dirname(planted), { recursive: true });
    fs.writeFileSync(planted, `{"msg":"oops","x":"…${secrets.secrets.admin_token.slice(5, 17)}…"}\n`);
    try {
      const found = [...logFiles(dataDir)].flatMap(([file, text]) => search(text, file, needles));
      expect(found).toEqual([
        { where: path.join('control', 'nested', 'planted.log'), what: 'admin_token (characters 5-16)' },
      ]);
    } finally {
      fs.rmSync(path.join(dataDir, 'control'), { recursive: true, force: true });
    }
    // Each pattern on its own.
    const kinds = (text: string) => search(text, 'control', needles).map((f) => f.what);
    expect(kinds(`"processID":4711,"secretKey":-12345`)).toEqual([
      'a connection cancel key field (processID/secretKey)',
    ]);
    expect(kinds(secrets.verifiers.ingest!)).toEqual(
      expect.arrayContaining(['ingest SCRAM verifier (characters 0-11)', 'a SCRAM verifier']),
    );
    expect(kinds('connect postgresql://someone:hunter2@db:5432/x')).toEqual([
      'a postgres(ql):// URL with a password',
    ]);
    expect(kinds('postgresql://someone:***@db:5432/x postgres://u:[redacted]@h/x')).toEqual([]);

    // The real leak: pg-pool's idle error carries the client (pg-pool sets err.client), cancel key included.
    expect(control).toBeDefined();
    const { standard, worker, error } = control!;
    expect((error as { client?: { secretKey?: unknown } }).client?.secretKey).toBeDefined();
    expect(kinds(standard)).toEqual(
      expect.arrayContaining([
        'a connection cancel key field (processID/secretKey)',
        'a dumped node-postgres client',
      ]),
    );
    expect(kinds(worker)).toEqual([]);
    const logged = JSON.parse(worker) as { err: Record<string, unknown> };
    expect(logged.err).toEqual({
      type: 'DatabaseError',
      message: 'terminating connection due to administrator command',
      code: '57P01',
      severity: 'FATAL',
    });
  });
});

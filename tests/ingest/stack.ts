// A real stack for ingest tests: PostgreSQL 16 + PgBouncer with the ini render() produces for a tier whose
// ingest pool fits the tests, roles and SCRAM secrets as deployed, and helpers to run workers and requests.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import {
  bootstrapSteps,
  customTier,
  dsn,
  renderUserlist,
  scramVerifier,
  tune,
  type Settings,
} from '../../config-templates';
import { runBootstrap } from '../../stacks/local-processes/database-bootstrap';
import { DATABASE, INGEST_POOL_DB, ROLES } from '../../config-templates/names';
import {
  hashToken,
  limitsFromSettings,
  parseIngestConfig,
  type IngestConfig,
  type IngestConfigInput,
} from '../../ingest/config';
import { createIngestServer, type IngestServer, type IngestServerDeps } from '../../ingest/server';
import {
  randomPassword,
  renderedBouncerIni,
  startTestPgBouncer,
  startTestPostgres,
  type TestPgBouncer,
  type TestPostgres,
} from '../harness';

export const TOKENS = {
  /** May write every table. */
  writer: 'tok-writer-' + randomPassword(),
  /** May write tm_entries only. */
  tmOnly: 'tok-tm-' + randomPassword(),
  /** Another full writer, for per-token limits and isolation of upload records. */
  other: 'tok-other-' + randomPassword(),
  admin: 'tok-admin-' + randomPassword(),
};

/**
 * Extra tables for format and error tests, created by the owner role before the worker starts (the documented
 * way to add a table: the migrate step then grants on the allowlisted ones). `hidden` is not allowlisted but
 * writable by the ingest role, so the tests see the worker's allowlist, not a missing privilege, refuse it.
 */
const TEST_SCHEMA = `
CREATE TABLE public.typed_rows (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  t text,
  n integer CHECK (n IS NULL OR n >= 0),
  b bigint,
  f double precision,
  ok boolean,
  u uuid,
  d date,
  ts timestamptz,
  j jsonb,
  tags text[],
  v varchar(20),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.keyed (k text PRIMARY KEY, val text NOT NULL);
CREATE TABLE public.hidden (x int);
GRANT INSERT ON public.hidden TO ${ROLES.ingest};
`;

export interface IngestStack {
  readonly pg: TestPostgres;
  readonly bouncer: TestPgBouncer;
  readonly settings: Settings;
  /** Superuser, straight to PostgreSQL, database powerhouse: for assertions. */
  readonly superDbUrl: string;
  /** The worker's URL: the ingest role through PgBouncer's ingest entry. */
  readonly ingestUrl: string;
  /** PgBouncer admin console as the stats user. */
  readonly consoleUrl: string;
  /** The owner role, straight to PostgreSQL: what the migrate step runs as. */
  readonly ownerUrl: string;
  config(
    overrides?: Omit<Partial<IngestConfigInput>, 'limits'> & { limits?: Partial<IngestConfig['limits']> },
  ): IngestConfig;
  startWorker(
    overrides?: Parameters<IngestStack['config']>[0],
    deps?: IngestServerDeps,
  ): Promise<IngestServer>;
  /** Runs SQL as the superuser (or the role of `url`) on database powerhouse (direct, not through PgBouncer). */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[], url?: string): Promise<T[]>;
  /** SHOW POOLS row of the ingest entry. */
  ingestPool(): Promise<Record<string, string>>;
}

/** `conf`: more postgresql.conf lines (e.g. WAL archiving for the backup-health tests). */
export async function startIngestStack(opts: { conf?: string } = {}): Promise<IngestStack> {
  // A 2-core, 4 GiB tier for 32 concurrent uploaders: ingest pool 32, enough for the 30-upload hazard test.
  const settings = tune(customTier({ cores: 2, ramMiB: 4096, disk: 'ssd' }, 32));
  const pg = await startTestPostgres({ conf: 'max_connections = 100\n' + (opts.conf ?? '') });
  const ingestPassword = randomPassword();
  const statsPassword = randomPassword();
  const ownerPassword = randomPassword();
  const ingestVerifier = scramVerifier(ingestPassword);
  // Database and roles as every deployment makes them (config-templates/roles.ts, the local stack's runner).
  const verifier = () => scramVerifier(randomPassword());
  await runBootstrap(pg.url, bootstrapSteps(settings), {
    owner: scramVerifier(ownerPassword),
    app: verifier(),
    ingest: ingestVerifier,
    bouncerAdmin: verifier(),
    bouncerStats: verifier(),
  });
  const superDbUrl = pg.server.superuserUrl(DATABASE);
  const local = { host: '127.0.0.1' };
  const ownerUrl = dsn({
    ...local,
    user: ROLES.owner,
    password: ownerPassword,
    port: pg.port,
    database: DATABASE,
  });
  const bouncer = await startTestPgBouncer({
    ini: renderedBouncerIni(settings, pg.port),
    userlist: renderUserlist([
      { name: ROLES.ingest, verifier: ingestVerifier },
      { name: ROLES.bouncerStats, password: statsPassword },
    ]),
  });
  const viaBouncer = { ...local, port: bouncer.port };
  const ingestUrl = dsn({
    ...viaBouncer,
    user: ROLES.ingest,
    password: ingestPassword,
    database: INGEST_POOL_DB,
  });
  const consoleUrl = dsn({
    ...viaBouncer,
    user: ROLES.bouncerStats,
    password: statsPassword,
    database: 'pgbouncer',
  });

  const sql = async <T>(text: string, params: unknown[] = [], url = superDbUrl): Promise<T[]> => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  };
  // The default schema comes from the worker's migration (run by the first worker, as the owner).
  await sql(TEST_SCHEMA, [], ownerUrl);

  const config: IngestStack['config'] = (overrides = {}) => {
    const { limits, ...rest } = overrides;
    return parseIngestConfig({
      databaseUrl: ingestUrl,
      migrationDatabaseUrl: ownerUrl,
      pgbouncerAdminUrl: consoleUrl,
      migrate: true,
      logLevel: 'silent',
      tables: [{ table: 'tm_entries' }, { table: 'file_rows' }, { table: 'typed_rows' }, { table: 'keyed' }],
      tokens: [
        { id: 'writer', sha256: hashToken(TOKENS.writer), tables: '*' },
        { id: 'tm-only', sha256: hashToken(TOKENS.tmOnly), tables: ['tm_entries'] },
        { id: 'other', sha256: hashToken(TOKENS.other), tables: '*' },
      ],
      adminTokenSha256: hashToken(TOKENS.admin),
      ...rest,
      limits: { ...limitsFromSettings(settings.ingest), ...limits },
    });
  };

  const startWorker: IngestStack['startWorker'] = async (overrides, deps) => {
    const worker = createIngestServer(config(overrides), deps);
    await worker.listen(0, '127.0.0.1');
    return worker;
  };

  const ingestPool = async (): Promise<Record<string, string>> => {
    const c = new Client({ connectionString: consoleUrl });
    await c.connect();
    try {
      const { rows } = await c.query('SHOW POOLS');
      return rows.find((r) => r.database === INGEST_POOL_DB);
    } finally {
      await c.end();
    }
  };

  return {
    pg,
    bouncer,
    settings,
    superDbUrl,
    ingestUrl,
    consoleUrl,
    ownerUrl,
    config,
    startWorker,
    sql,
    ingestPool,
  };
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  text: string;
}

export interface RequestOptions {
  method?: string;
  token?: string;
  headers?: Record<string, string>;
  /** The body, sent in these pieces (chunked unless contentLength is given). */
  body?: string | Buffer | (string | Buffer)[];
  contentType?: string;
}

function readResponse(res: http.IncomingMessage): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        /* not JSON: /metrics */
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
    });
  });
}

/** One HTTP request with the whole body written up front (in pieces when given as an array). */
export function request(baseUrl: string, path: string, opts: RequestOptions = {}): Promise<HttpResult> {
  const pending = openRequest(baseUrl, path, opts);
  const pieces = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
  for (const p of pieces) pending.req.write(p);
  pending.req.end();
  return pending.response;
}

export interface OpenRequest {
  req: http.ClientRequest;
  response: Promise<HttpResult>;
}

/** A request whose body the test writes (and ends or aborts) itself. */
export function openRequest(baseUrl: string, path: string, opts: RequestOptions = {}): OpenRequest {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.contentType !== undefined) headers['Content-Type'] = opts.contentType;
  const req = http.request(new URL(path, baseUrl), { method: opts.method ?? 'POST', headers, agent: false });
  const response = new Promise<HttpResult>((resolve, reject) => {
    req.on('response', (res) => readResponse(res).then(resolve, reject));
    req.on('error', reject);
  });
  return { req, response };
}

/** A worker's /metrics as series → value (the series with its labels, as Prometheus prints it). */
export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number>> {
  const text = (await request(baseUrl, '/metrics', { method: 'GET' })).text;
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(' ');
    if (line && !line.startsWith('#')) m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

export const CT = {
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  pgcopy: 'application/x-pgcopy',
};

export function upload(
  baseUrl: string,
  table: string,
  format: keyof typeof CT,
  body: string | Buffer | (string | Buffer)[],
  opts: { token?: string; key?: string; columns?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers = { ...(opts.headers ?? {}) };
  if (opts.key !== undefined) headers['Idempotency-Key'] = opts.key;
  const q = opts.columns !== undefined ? `?columns=${encodeURIComponent(opts.columns)}` : '';
  return request(baseUrl, `/v1/tables/${table}/uploads${q}`, {
    token: opts.token ?? TOKENS.writer,
    contentType: CT[format],
    headers,
    body,
  });
}

/** Waits until `check` returns a value (polling every few ms); fails after `tries`. */
/**
 * `n` idle clients of PgBouncer's ingest entry, each having run one query: they hold SHOW POOLS' numbers still
 * while a test compares them with what the worker shows. End them with `Promise.all(clients.map((c) => c.end()))`.
 */
export function idleIngestClients(stack: IngestStack, n: number): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new Client({ connectionString: stack.ingestUrl });
      await c.connect();
      await c.query('SELECT 1');
      return c;
    }),
  );
}

export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  tries = 500,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not reached');
}

/** Collects pino's JSON lines in memory. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// What every scenario needs: the running stack, a superuser connection for set-up and checks, the psql
// baseline's connection, the data files, and a clean starting point before each measurement.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { Settings } from '../config-templates';
import { tierFromFlags } from '../cli/tier-options';
import { startLocalStack, type LocalStack } from '../stacks/local-processes/stack';
import { INGEST_POOL_DB, ROLES } from '../config-templates/names';
import { connectionFromUrl, type PgConnection } from './psql-copy';

/** A temp directory for a bench's stack and files, which the service user running PostgreSQL can read. */
export function benchWorkDir(name: string): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `powerhouse-bench-${name}-`));
  fs.chmodSync(work, 0o755);
  return work;
}

/**
 * The local stack on this machine tuned as `powerhouse up --tier detect` would for `users` concurrent uploaders,
 * the worker as a child process, free ports, one token per uploader. `adjustSettings`: experiments.
 */
export function startBenchStack(
  dataDir: string,
  users: number,
  adjustSettings?: (s: Settings) => Settings,
): Promise<LocalStack> {
  return startLocalStack({
    dataDir,
    // ssd, as every committed bench:schema / worker-cpu / copy-turns result was measured.
    tier: tierFromFlags({ tier: 'detect', users: String(users), disk: 'ssd' }),
    ingestPort: 0,
    bouncerPort: 0,
    logLevel: 'warn',
    worker: 'child',
    extraTokens: users,
    adjustSettings,
  });
}

export interface BenchContext {
  stack: LocalStack;
  /** Superuser on the powerhouse database, direct (not through PgBouncer). */
  admin: Client;
  /** Where psql \copy connects: the same server and database, directly. */
  psqlConn: PgConnection;
  /** Where the generated data files live. */
  filesDir: string;
  /** Short progress line on stderr. */
  log(message: string): void;
  /**
   * Endpoint runs start as deployed (default): PgBouncer's ingest entry holds its min_pool_size server
   * connections (the tier keeps the whole pool open) and the worker's pooled connections are open. `false`
   * (--cold): the experiment of an empty pool, min_pool_size 0, as the tier was before it kept them open.
   */
  warm: boolean;
}

export async function openContext(
  stack: LocalStack,
  filesDir: string,
  log: (m: string) => void,
  warm = false,
): Promise<BenchContext> {
  const admin = new Client({ connectionString: stack.superuserUrl, application_name: 'bench-admin' });
  admin.on('error', () => undefined);
  await admin.connect();
  return { stack, admin, psqlConn: connectionFromUrl(stack.superuserUrl), filesDir, log, warm };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ingestBackends(ctx: BenchContext, state?: 'idle'): Promise<number> {
  const r = await ctx.admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE usename = $1 AND backend_type = 'client backend' AND ($2::text IS NULL OR state = $2)`,
    [ROLES.ingest, state ?? null],
  );
  return r.rows[0].n;
}

/**
 * Closes PgBouncer's idle server connections of the ingest role (PostgreSQL ends them; PgBouncer drops them
 * and opens new ones on demand). An endpoint run then starts as after server_idle_timeout, and N direct
 * psql sessions find the connection slots those idle connections held (max_connections is budgeted for
 * PgBouncer's pools, not for pools plus N direct clients).
 */
export async function releaseIngestConnections(ctx: BenchContext): Promise<void> {
  await ctx.admin.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE usename = $1 AND backend_type = 'client backend' AND state = 'idle'`,
    [ROLES.ingest],
  );
  for (let i = 0; i < 100 && (await ingestBackends(ctx, 'idle')) > 0; i++) await sleep(50);
}

/** The tier's min_pool_size for the ingest entry, as rendered into the stack's pgbouncer.ini. */
const tierMinPool = (ctx: BenchContext) => ctx.stack.settings.pgbouncer.ingest.minPoolSize.value;

/** Rewrites min_pool_size of the ingest entry in the running PgBouncer's ini and reloads it (SIGHUP). */
async function setIngestMinPool(ctx: BenchContext, n: number): Promise<void> {
  const bouncer = ctx.stack.bouncer;
  if (!bouncer) return;
  const ini = fs.readFileSync(bouncer.paths.iniFile, 'utf8');
  const next = ini.replace(new RegExp(`^(${INGEST_POOL_DB} = .*\\bmin_pool_size=)\\d+`, 'm'), `$1${n}`);
  if (next === ini && !ini.includes(`min_pool_size=${n}`))
    throw new Error('no min_pool_size on the ingest entry');
  bouncer.reload({ ini: next });
  await sleep(300); // PgBouncer applies SIGHUP asynchronously
}

/**
 * Before a psql baseline: no PgBouncer server connections holding PostgreSQL's slots (max_connections is
 * budgeted for PgBouncer's pools, not for pools plus N direct psql sessions), and none refilled meanwhile.
 */
export async function beforePsqlRun(ctx: BenchContext): Promise<void> {
  await setIngestMinPool(ctx, 0);
  await releaseIngestConnections(ctx);
}

/**
 * Before an endpoint run, as deployed (default): PgBouncer's ingest entry holds the tier's min_pool_size
 * server connections and the worker its dbPoolKeepOpen client connections (it opens them itself at start
 * and after a drop). --cold: no PgBouncer server connections and min_pool_size 0, as the tier was before it
 * kept them open.
 */
export async function beforeEndpointRun(ctx: BenchContext): Promise<void> {
  if (!ctx.warm) {
    await setIngestMinPool(ctx, 0);
    await releaseIngestConnections(ctx);
    return;
  }
  // PgBouncer refills min_pool_size one login at a time, while the worker's ops connection is its client.
  const want = tierMinPool(ctx);
  await setIngestMinPool(ctx, want);
  await fetch(`${ctx.stack.ingestUrl}/readyz`).catch(() => undefined); // the ops pool reconnects if it was dropped
  const keepOpen = ctx.stack.settings.ingest.dbPoolKeepOpen.value;
  const deadline = Date.now() + 120_000;
  while ((await ingestBackends(ctx)) < want || (await workerPoolIdle(ctx)) < keepOpen) {
    if (Date.now() > deadline)
      throw new Error(
        `PgBouncer's min_pool_size ${want} or the worker's ${keepOpen} pooled connections not open in 120 s`,
      );
    await sleep(100);
  }
}

/** Idle connections in the worker's upload pool, from its /metrics (served from memory, no database). */
async function workerPoolIdle(ctx: BenchContext): Promise<number> {
  const text = await (await fetch(`${ctx.stack.ingestUrl}/metrics`)).text();
  const m = /^powerhouse_ingest_db_pool_connections\{state="idle"\} (\d+)$/m.exec(text);
  if (!m) throw new Error("the worker's /metrics has no powerhouse_ingest_db_pool_connections");
  return Number(m[1]);
}

/** DDL of tm_entries as migration 4 leaves it (docs/INGEST-API.md), for the per-method tables. */
export function tmTableDdl(qualified: string, keyName: string): string {
  return `CREATE TABLE ${qualified} (
  id bigint GENERATED ALWAYS AS IDENTITY (CACHE 128),
  tm_id bigint NOT NULL,
  source text NOT NULL,
  target text NOT NULL,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ${keyName} PRIMARY KEY (tm_id, id)
);`;
}

/**
 * The same start for every measurement: an empty table (TRUNCATE gives it new, empty files) and a
 * CHECKPOINT, so no run pays for the dirty pages of the one before.
 */
export async function resetTable(ctx: BenchContext, qualified: string): Promise<void> {
  await ctx.admin.query(`TRUNCATE ${qualified} RESTART IDENTITY`);
  await ctx.admin.query('CHECKPOINT');
}

export async function countRows(ctx: BenchContext, qualified: string): Promise<number> {
  const r = await ctx.admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified}`);
  return Number(r.rows[0].n);
}

/** Throws when the table does not hold exactly `expected` rows: a benchmark that lost rows measured nothing. */
export async function expectRows(
  ctx: BenchContext,
  qualified: string,
  expected: number,
  what: string,
): Promise<void> {
  const n = await countRows(ctx, qualified);
  if (n !== expected) throw new Error(`${what}: expected ${expected} rows in ${qualified}, found ${n}`);
}

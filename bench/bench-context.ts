// What every scenario needs: the running stack, a superuser connection for set-up and checks, the psql
// baseline's connection, the data files, and a clean starting point before each measurement.
import fs from 'node:fs';
import { Client } from 'pg';
import type { LocalStack } from '../cli/local/stack';
import { INGEST_POOL_DB, ROLES } from '../config-templates/names';
import { connectionFromUrl, type PgConnection } from './psql-copy';

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
   * Experiment: PgBouncer min_pool_size for the ingest entry during endpoint runs (0 = the tier's setting,
   * which is 0: every endpoint run starts with no server connections, as after server_idle_timeout).
   */
  warmPool: number;
}

export async function openContext(
  stack: LocalStack,
  filesDir: string,
  log: (m: string) => void,
  warmPool = 0,
): Promise<BenchContext> {
  const admin = new Client({ connectionString: stack.superuserUrl, application_name: 'bench-admin' });
  admin.on('error', () => undefined);
  await admin.connect();
  return { stack, admin, psqlConn: connectionFromUrl(stack.superuserUrl), filesDir, log, warmPool };
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

/** Rewrites min_pool_size of PgBouncer's ingest entry and reloads PgBouncer (SIGHUP). */
export function setIngestMinPool(ctx: BenchContext, n: number): void {
  const bouncer = ctx.stack.bouncer;
  if (!bouncer) throw new Error('--warm-pool needs PgBouncer');
  const ini = fs.readFileSync(bouncer.paths.iniFile, 'utf8');
  const line = new RegExp(`^(${INGEST_POOL_DB}\\s*=.*\\bmin_pool_size=)\\d+`, 'm');
  if (!line.test(ini)) throw new Error(`pgbouncer.ini has no min_pool_size on its ${INGEST_POOL_DB} line`);
  bouncer.reload({ ini: ini.replace(line, `$1${n}`) });
}

/** Before a psql baseline: no PgBouncer server connections holding PostgreSQL's slots. */
export async function beforePsqlRun(ctx: BenchContext): Promise<void> {
  if (ctx.warmPool > 0) setIngestMinPool(ctx, 0);
  await releaseIngestConnections(ctx);
}

/** Before an endpoint run: a cold ingest pool, or (experiment) one PgBouncer has filled to warmPool. */
export async function beforeEndpointRun(ctx: BenchContext): Promise<void> {
  await releaseIngestConnections(ctx);
  if (ctx.warmPool === 0) return;
  setIngestMinPool(ctx, ctx.warmPool);
  // PgBouncer opens one server connection at a time per pool, from its janitor (about once a second).
  const deadline = Date.now() + 120_000;
  while ((await ingestBackends(ctx)) < ctx.warmPool) {
    if (Date.now() > deadline)
      throw new Error(`PgBouncer did not open ${ctx.warmPool} ingest server connections within 120 s`);
    await sleep(200);
  }
}

/** DDL of tm_entries (INGEST-API.md), for the per-method tables. */
export function tmTableDdl(qualified: string, indexName: string): string {
  return `CREATE TABLE ${qualified} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tm_id bigint NOT NULL,
  source text NOT NULL,
  target text NOT NULL,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ${indexName} ON ${qualified} (tm_id);`;
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

// The whole local stack for reliability and client tests: real PostgreSQL 16, real PgBouncer and the ingest
// worker, by default as a child process (so SIGKILL and SIGTERM are real), from startLocalStack with a small tier, plus what the
// tests need to look at it from outside: SQL as the superuser, PgBouncer's SHOW POOLS, the server backends of
// the ingest role, the worker's log, and a way to give the worker extra tables or limits.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { startLocalStack, type LocalStack } from '../../stacks/local-processes/stack';
import { customTier, INGEST_POOL_DB, ROLES } from '../../config-templates';
import type { IngestConfig } from '../../ingest/config';

export interface LiveStackOptions {
  /** Concurrent uploaders of the tier = ingest pool = the worker's concurrency limit. */
  users: number;
  extraTokens?: number;
  logLevel?: IngestConfig['logLevel'];
  /** Default 'child'; 'in-process' cannot be reconfigured (its config is not re-read on restart). */
  worker?: 'in-process' | 'child';
  /** The tier's cores (default 2); 4 or more turns parallel COPY on (config-templates/tune.ts). */
  cores?: number;
}

export interface IngestBackend {
  pid: number;
  state: string | null;
  query: string;
}

export interface LiveStack {
  readonly stack: LocalStack;
  /** The worker's base URL (stable across worker restarts). */
  readonly url: string;
  readonly token: string;
  /** Runs SQL as the superuser, directly on PostgreSQL (not through PgBouncer). */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** SHOW POOLS row of the ingest entry, numbers parsed. */
  ingestPool(): Promise<Record<string, number | string>>;
  /** Any PgBouncer console command as the stats user (SHOW POOLS, SHOW LISTS, SHOW CONFIG, …). */
  console(command: string): Promise<Record<string, string>[]>;
  /** Server backends of the ingest role, as PostgreSQL sees them. */
  ingestBackends(): Promise<IngestBackend[]>;
  /**
   * Waits until nothing of an upload is left: no ingest backend active or in a transaction, no PgBouncer
   * server connection in use for the ingest entry, no client waiting, the worker's active-uploads gauge at 0.
   * Throws (saying what was still busy) when that is not reached within `timeoutMs`.
   */
  waitQuiet(timeoutMs?: number): Promise<void>;
  /** Everything the worker process has logged so far. */
  workerLog(): string;
  /** Rewrites the worker's config file and restarts it gracefully (SIGTERM, then start on the same port). */
  reconfigureWorker(change: (config: IngestConfig) => IngestConfig): Promise<void>;
  /** Runs `ddl` as the superuser, then adds the tables to the worker's allowlist (one restart). */
  addTables(ddl: string, tables: IngestConfig['tables']): Promise<void>;
  /** Stops everything and removes the data dir. */
  stop(): Promise<void>;
}

export async function startLiveStack(opts: LiveStackOptions): Promise<LiveStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-rel-'));
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      dataDir,
      tier: customTier({ cores: opts.cores ?? 2, ramMiB: 4096, disk: 'nvme' }, opts.users, 'detect'),
      ingestPort: 0,
      bouncerPort: 0,
      worker: opts.worker ?? 'child',
      extraTokens: opts.extraTokens,
      logLevel: opts.logLevel ?? 'info',
    });
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const consoleUrl = stack.config.pgbouncerAdminUrl;
  if (!consoleUrl) throw new Error('the local stack runs without PgBouncer: apt-get install -y pgbouncer');

  // Small pools, so polling does not pay a SCRAM handshake per query; a connection broken by a server restart
  // fails its query once and is discarded.
  const superPool = new Pool({
    connectionString: stack.superuserUrl,
    max: 2,
    connectionTimeoutMillis: 10_000,
  });
  const consolePool = new Pool({ connectionString: consoleUrl, max: 1, connectionTimeoutMillis: 10_000 });
  for (const p of [superPool, consolePool]) p.on('error', () => undefined);

  /** One retry on a fresh connection when the pooled one died with a server restart. */
  const query = async <T>(pool: Pool, text: string, params: unknown[] = []): Promise<T[]> => {
    try {
      return (await pool.query(text, params)).rows as T[];
    } catch (err) {
      if (!/terminat|ECONNRESET|EPIPE|Connection|closed|shutting down/i.test((err as Error).message))
        throw err;
      return (await pool.query(text, params)).rows as T[];
    }
  };

  const sql: LiveStack['sql'] = (text, params = []) => query(superPool, text, params);

  const consoleQuery: LiveStack['console'] = (command) => query<Record<string, string>>(consolePool, command);

  const ingestPool: LiveStack['ingestPool'] = async () => {
    const row = (await consoleQuery('SHOW POOLS')).find((r) => r.database === INGEST_POOL_DB);
    if (!row) throw new Error(`SHOW POOLS has no ${INGEST_POOL_DB} entry`);
    return Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, /^-?\d+$/.test(String(v)) ? Number(v) : v]),
    );
  };

  const ingestBackends = () =>
    sql<IngestBackend>(
      `SELECT pid, state, query FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
      [ROLES.ingest],
    );

  const activeUploads = async (): Promise<number> => {
    const res = await fetch(`${stack.ingestUrl}/metrics`);
    const m = /^powerhouse_ingest_active_uploads (\d+)/m.exec(await res.text());
    if (!m) throw new Error('/metrics has no powerhouse_ingest_active_uploads');
    return Number(m[1]);
  };

  const waitQuiet: LiveStack['waitQuiet'] = async (timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let busy = '';
    for (;;) {
      const backends = (await ingestBackends()).filter((b) => b.state !== 'idle');
      const pool = await ingestPool();
      const active = await activeUploads();
      busy = [
        backends.length ? `ingest backends not idle: ${JSON.stringify(backends)}` : '',
        pool.sv_active !== 0 ? `PgBouncer sv_active=${pool.sv_active}` : '',
        pool.cl_waiting !== 0 ? `PgBouncer cl_waiting=${pool.cl_waiting}` : '',
        active !== 0 ? `worker active uploads=${active}` : '',
      ]
        .filter(Boolean)
        .join('; ');
      if (!busy) return;
      if (Date.now() > deadline) throw new Error(`still busy after ${timeoutMs} ms: ${busy}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const configFile = path.join(stack.dataDir, 'ingest.json');
  const reconfigureWorker: LiveStack['reconfigureWorker'] = async (change) => {
    if (opts.worker === 'in-process')
      throw new Error('reconfigureWorker needs the worker as a child process');
    const current = JSON.parse(fs.readFileSync(configFile, 'utf8')) as IngestConfig;
    fs.writeFileSync(configFile, JSON.stringify(change(current), null, 2), { mode: 0o600 });
    await stack.restartWorker('graceful');
  };

  const addTables: LiveStack['addTables'] = async (ddl, tables) => {
    await sql(ddl);
    await reconfigureWorker((c) => ({ ...c, tables: [...c.tables, ...tables] }));
  };

  return {
    stack,
    get url() {
      return stack.ingestUrl;
    },
    token: stack.token,
    sql,
    ingestPool,
    console: consoleQuery,
    ingestBackends,
    waitQuiet,
    workerLog: () => fs.readFileSync(path.join(stack.dataDir, 'ingest.log'), 'utf8'),
    reconfigureWorker,
    addTables,
    async stop() {
      try {
        await Promise.all([superPool.end(), consolePool.end()]).catch(() => undefined);
        await stack.stop();
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** True while a process with this pid runs (a zombie, dead but not yet reaped by its parent, does not count). */
export function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

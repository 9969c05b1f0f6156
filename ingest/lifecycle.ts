// The worker's lifecycle: listen (migrate, catalog, warm connections, then accept), reload (SIGHUP: catalog,
// tokens and tables, all or nothing) and close (stop accepting, drain in-flight requests for the grace
// period, abort what is left, close the pools).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import type { BackupMonitor } from './backup-monitor';
import { loadCatalog } from './catalog';
import type { IngestConfig } from './config';
import { withDeadline } from './deadline';
import { ShutdownError } from './errors';
import { migrate } from './migrations';
import type { ParallelCopyOptions } from './copy-parts/parts';
import type { PreparedPartsWatch } from './copy-parts/resolver';
import type { PoolWarmer } from './pool-warmer';
import type { WorkerState } from './routes/context';
import type { TokenStore } from './token-store';
import type { UploadTracker } from './upload-tracker';

/** After aborting uploads at the end of the grace period, how long their rollbacks may take. */
const ABORT_SETTLE_MS = 15_000;
/** How long close() waits for the pools' connections to be closed by the server after Terminate. */
const POOL_CLOSE_MS = 5_000;
/** Config keys a running worker keeps until it restarts (reload() takes tokens and tables). */
const RESTART_ONLY = [
  'databaseUrl',
  'migrationDatabaseUrl',
  'pgbouncerAdminUrl',
  'listen',
  'limits',
  'migrate',
  'logLevel',
  'backup',
] as const satisfies readonly (keyof IngestConfig)[];

export interface LifecycleDeps {
  readonly config: IngestConfig;
  readonly log: Logger;
  readonly server: Server;
  readonly state: WorkerState;
  readonly tracker: UploadTracker;
  /** Promises of the requests being handled (see routes/router.ts). */
  readonly inflight: Set<Promise<void>>;
  readonly opsPool: Pool;
  /** Commits or rolls back upload parts an interrupted upload left prepared (copy-parts/resolver.ts). */
  readonly parts: PreparedPartsWatch;
  /** Parallel COPY as configured; on only when PostgreSQL can prepare transactions. */
  readonly parallel?: ParallelCopyOptions;
  /** The upload pool when the worker made it (a pool handed in is the caller's to end). */
  readonly ownUploadPool?: Pool;
  readonly warmer?: PoolWarmer;
  readonly backup?: BackupMonitor;
  readonly tokens: TokenStore;
}

export interface Lifecycle {
  listen(port: number, host: string): Promise<string>;
  reload(next?: IngestConfig): Promise<void>;
  close(): Promise<void>;
  /** http://host:port once listening. */
  readonly url: string | undefined;
}

/**
 * Ends a pool and waits (bounded) until its connections' sockets have closed. pg-pool's end() resolves as
 * soon as it has asked each client to end: a caller that then stops PostgreSQL (the local stack on Ctrl-C)
 * would otherwise have the server terminate connections whose Terminate it has not read yet, and every one
 * of them would fail as an idle connection.
 */
async function endPool(pool: Pool): Promise<void> {
  let open = pool.totalCount;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on('remove', () => {
      if (--open <= 0) resolve();
    });
  });
  await pool.end();
  await withDeadline(closed, POOL_CLOSE_MS, () => undefined);
}

export function createLifecycle(d: LifecycleDeps): Lifecycle {
  const { config, log, server, state } = d;
  let baseUrl: string | undefined;
  let closed: Promise<void> | undefined;

  async function listen(port: number, host: string): Promise<string> {
    // First: parts an earlier run left prepared hold locks (a migration would wait for them) and await a decision.
    const maxPrepared = await d.parts.start();
    if (d.parallel && maxPrepared === 0)
      log.warn('parallel COPY is off: PostgreSQL has max_prepared_transactions = 0 (a restart setting)');
    else state.parallel = d.parallel;
    if (config.migrate) {
      const migrationPool = config.migrationDatabaseUrl
        ? new Pool({ connectionString: config.migrationDatabaseUrl, max: 1 })
        : d.opsPool;
      try {
        const { applied } = await migrate(migrationPool, { tables: config.tables });
        log.info({ applied }, applied.length ? 'schema migrated' : 'schema up to date');
      } finally {
        if (migrationPool !== d.opsPool) await migrationPool.end();
      }
    }
    state.catalog = await loadCatalog(d.opsPool, state.tables);
    await d.tokens.start();
    // Listen with the upload connections open; if they cannot all be opened now, the warmer keeps trying.
    await d.warmer?.fill();
    // The first reading before the first request: /readyz and the upload check never see "not read yet".
    await d.backup?.start();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    baseUrl = `http://${shownHost}:${addr.port}`;
    log.info(
      { url: baseUrl, tables: [...state.catalog.keys()], limits: config.limits },
      'ingest worker listening',
    );
    return baseUrl;
  }

  async function reload(next?: IngestConfig): Promise<void> {
    const nextTables = next?.tables ?? state.tables;
    try {
      state.catalog = await loadCatalog(d.opsPool, nextTables);
    } catch (err) {
      log.error({ err }, 'reload failed (catalog); keeping the previous tables and tokens');
      throw err;
    }
    state.tables = nextTables;
    if (next) {
      await d.tokens.setConfig(next.tokens, next.adminTokenSha256);
      const needRestart = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
      if (needRestart.length)
        log.warn({ settings: needRestart }, 'changed settings that take effect only after a restart');
    }
    log.info(
      { tables: [...state.catalog.keys()], ...(next ? { tokens: next.tokens.map((t) => t.id) } : {}) },
      next ? 'configuration reloaded' : 'catalog reloaded',
    );
  }

  /** Lets in-flight requests finish for shutdownGraceMs, then aborts the uploads still running. */
  async function drain(): Promise<void> {
    const { inflight, tracker } = d;
    if (inflight.size === 0) return;
    // Uploads still queued for a COPY turn have sent nothing into the database: 503 now (retry elsewhere or
    // later), rather than starting a COPY the grace period may cut off.
    for (const u of tracker.liveUploads)
      if (u.state === 'queued') u.abort(new ShutdownError('the worker is shutting down'));
    const graceMs = config.limits.shutdownGraceMs;
    log.info({ requests: inflight.size, graceMs }, 'shutting down: waiting for uploads');
    const all = () => Promise.all([...inflight]);
    const inTime = await withDeadline(
      all().then(() => true),
      graceMs,
      () => false,
    );
    if (inTime) return;
    const live = tracker.liveUploads;
    log.warn({ uploads: live.map((u) => u.id) }, 'grace period over: aborting uploads');
    for (const u of live) u.abort(new ShutdownError('the worker is shutting down'));
    await withDeadline(all(), ABORT_SETTLE_MS, () => undefined);
  }

  async function shutdown(): Promise<void> {
    state.closing = true;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await drain();
    server.closeAllConnections();
    await serverClosed;
    d.warmer?.stop();
    d.tokens.stop();
    d.parts.stop();
    await d.backup?.stop();
    await Promise.all([d.ownUploadPool && endPool(d.ownUploadPool), endPool(d.opsPool)]);
    log.info('ingest worker stopped');
  }

  return {
    listen,
    reload,
    close: () => (closed ??= shutdown()),
    get url() {
      return baseUrl;
    },
  };
}

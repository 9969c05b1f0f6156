// The ingest worker's HTTP server (node:http), composed: the pools (db-pools.ts), the routes (routes/), the
// lifecycle (lifecycle.ts: listen, reload, close). The upload itself is in upload.ts. Usable in-process
// (tests, the local stack) and from main.ts.
import { createServer } from 'node:http';
import type { Pool } from 'pg';
import type { DestinationStream, Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BackupMonitor } from './backup-monitor';
import { PREPARED_PARTS_CHECK_MS, PreparedPartsWatch } from './copy-parts/resolver';
import type { IngestConfig } from './config';
import { createOpsPool, createUploadPool, logIdleErrors } from './db-pools';
import { createLifecycle } from './lifecycle';
import { createLogger } from './logger';
import { createMetrics, registerBackupMetrics } from './metrics';
import { PoolWarmer } from './pool-warmer';
import type { RouteContext, WorkerState } from './routes/context';
import { requestListener } from './routes/router';
import { StatusCollector } from './status/collect';
import { ThroughputHistory } from './status/history';
import { TokenStore } from './token-store';
import { SERVER_WAIT_MS } from './upload';
import { UploadSlots } from './upload-slots';
import { CopyGate } from './copy-gate';
import { UploadTracker } from './upload-tracker';

export interface IngestServerDeps {
  /** Logger to use; default: pino JSON at config.logLevel to `logStream` (default stdout). */
  logger?: Logger;
  logStream?: DestinationStream;
  /** The upload pool; default: a pg Pool on config.databaseUrl sized config.limits.dbPoolSize. */
  pool?: Pool;
  /** Also export prom-client's process metrics (main.ts turns this on). */
  defaultMetrics?: boolean;
  /** How long an upload or lookup waits for a database server connection before a 503; default 10 s. */
  serverWaitMs?: number;
  /** How often tokens made or revoked elsewhere are read from the database; default 15 s (token-store.ts). */
  tokenRefreshMs?: number;
  /** The dashboard's throughput interval; default 5 s (status/history.ts). */
  historyIntervalMs?: number;
}

export interface IngestServer {
  /** Migrates (if configured), reads the catalog, then listens; resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, lets uploads finish for shutdownGraceMs, then aborts the rest (rolled back). */
  close(): Promise<void>;
  /**
   * SIGHUP: re-reads the allowlisted tables' columns from the catalog and, given a new config, takes its
   * tokens and tables (other settings need a restart and are reported). All or nothing: on failure the
   * running catalog and tokens stay.
   */
  reload(next?: IngestConfig): Promise<void>;
  /** http://host:port of the listening server; throws before listen(). */
  readonly url: string;
  readonly registry: Registry;
  readonly log: Logger;
}

const HEADERS_TIMEOUT_MS = 30_000;

export function createIngestServer(config: IngestConfig, deps: IngestServerDeps = {}): IngestServer {
  const limits = config.limits;
  const log = deps.logger ?? createLogger(config.logLevel, deps.logStream);
  const pool = deps.pool ?? createUploadPool(config);
  const opsPool = createOpsPool(config);
  for (const p of [pool, opsPool]) logIdleErrors(p, log);
  // A pool handed in by the caller is the caller's to size.
  const warmer = deps.pool
    ? undefined
    : new PoolWarmer(
        pool,
        Math.min(limits.dbPoolKeepOpen ?? limits.maxConcurrentUploads, limits.dbPoolSize),
        log,
      );

  // Tokens and tables can change on reload() (tokens also with `powerhouse token`); the rest needs a restart.
  const tokens = new TokenStore(
    opsPool,
    log,
    config.tokens,
    config.adminTokenSha256,
    (auth) => {
      state.auth = auth;
    },
    deps.tokenRefreshMs,
  );
  const state: WorkerState = {
    auth: tokens.initial(),
    tables: config.tables,
    catalog: new Map(),
    closing: false,
  };
  const tracker = new UploadTracker();
  const metrics = createMetrics(pool, { defaultMetrics: deps.defaultMetrics });
  const backup = config.backup && new BackupMonitor(config.backup, opsPool, log);
  if (backup) registerBackupMetrics(metrics.registry, () => backup.report());
  const history = new ThroughputHistory(tracker, metrics.queueWait, deps.historyIntervalMs);
  // Without a tier's limit every admitted upload has its turn at once (no waiting), as before the gate.
  const gate = new CopyGate(limits.maxActiveCopies ?? limits.maxConcurrentUploads);
  const status = new StatusCollector({
    limits,
    tracker,
    gate,
    uploadPool: pool,
    opsPool,
    history,
    pgbouncerAdminUrl: config.pgbouncerAdminUrl,
    backup,
    catalog: () => [...state.catalog.values()],
  });
  const ctx: RouteContext = {
    config,
    limits,
    log,
    pool,
    opsPool,
    metrics,
    tracker,
    slots: new UploadSlots(limits.maxConcurrentUploads, limits.maxConcurrentUploadsPerToken),
    gate,
    serverWaitMs: deps.serverWaitMs ?? SERVER_WAIT_MS,
    state,
    tokens,
    backup,
    status,
  };
  const inflight = new Set<Promise<void>>();
  const server = createServer(
    { requestTimeout: 0, headersTimeout: HEADERS_TIMEOUT_MS },
    requestListener(ctx, inflight),
  );
  // Long uploads are bounded by the idle timer in upload.ts, not by a total request time.
  server.requestTimeout = 0;
  server.headersTimeout = HEADERS_TIMEOUT_MS;

  const lifecycle = createLifecycle({
    config,
    log,
    server,
    state,
    tracker,
    inflight,
    opsPool,
    // The ops pool (same role, so it may finish the parts): the timer never holds an upload connection.
    parts: new PreparedPartsWatch(
      opsPool,
      log,
      limits.preparedPartsCheckMs ?? PREPARED_PARTS_CHECK_MS,
      (id) => tracker.liveUploads.some((u) => u.id === id),
    ),
    parallel:
      limits.parallelCopyParts > 1
        ? {
            maxParts: limits.parallelCopyParts,
            partBytes: limits.parallelCopyPartBytes,
            gate: ctx.gate,
          }
        : undefined,
    ownUploadPool: deps.pool ? undefined : pool,
    warmer,
    backup,
    tokens,
  });

  // The dashboard's parts outlive no request: stopped once the lifecycle has closed (before a caller ends
  // PgBouncer, so its console connection ends cleanly).
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= lifecycle.close().finally(() => Promise.all([history.stop(), status.close()])));
  return {
    listen: async (port = config.listen.port, host = config.listen.host) => {
      const url = await lifecycle.listen(port, host);
      history.start();
      return url;
    },
    reload: (next) => lifecycle.reload(next),
    close,
    get url() {
      if (!lifecycle.url) throw new Error('the ingest server is not listening yet');
      return lifecycle.url;
    },
    registry: metrics.registry,
    log,
  };
}

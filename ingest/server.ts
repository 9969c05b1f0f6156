// The ingest worker's HTTP server (node:http): routing, auth, limits and lifecycle. The upload itself is in
// upload.ts. Usable in-process (tests, the local stack) and from main.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import type { DestinationStream, Logger } from 'pino';
import type { Registry } from 'prom-client';
import { INGEST_OPS_CONNECTIONS } from '../config-templates/tune';
import { TokenVerifier, canWrite, type AuthToken } from './auth';
import { loadCatalog, type CatalogTable } from './catalog';
import type { IngestConfig } from './config';
import { DatabaseWaitError, HttpError, ShutdownError, httpErrors, isConnectionError } from './errors';
import { formatFromContentType } from './formats';
import { createLogger } from './logger';
import { createMetrics } from './metrics';
import { migrate } from './migrations';
import { pgbouncerSnapshot } from './pgbouncer-admin';
import { PoolWarmer } from './pool-warmer';
import { SERVER_WAIT_MS, runUpload } from './upload';
import { UploadSlots } from './upload-slots';
import { UploadTracker, type UploadStatus } from './upload-tracker';

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

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UPLOAD_PARAMS = new Set(['columns']);
const HEADERS_TIMEOUT_MS = 30_000;
const POOL_CONNECT_TIMEOUT_MS = 10_000;
/** After aborting uploads at the end of the grace period, how long their rollbacks may take. */
const ABORT_SETTLE_MS = 15_000;
const READY_TIMEOUT_MS = 5_000;
/** Config keys a running worker keeps until it restarts (reload() takes tokens and tables). */
const RESTART_ONLY = [
  'databaseUrl',
  'migrationDatabaseUrl',
  'pgbouncerAdminUrl',
  'listen',
  'limits',
  'migrate',
  'logLevel',
] as const satisfies readonly (keyof IngestConfig)[];

interface DbUploadRow {
  upload_id: string;
  table_name: string;
  status: 'committed' | 'failed';
  rows: string;
  bytes: string;
  error: Record<string, unknown> | null;
}

function dbStatus(r: DbUploadRow): UploadStatus {
  return {
    uploadId: r.upload_id,
    table: r.table_name,
    state: r.status,
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    ...(r.error ? { error: r.error } : {}),
  };
}

function delay(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

export function createIngestServer(config: IngestConfig, deps: IngestServerDeps = {}): IngestServer {
  const limits = config.limits;
  const serverWaitMs = deps.serverWaitMs ?? SERVER_WAIT_MS;
  const log = deps.logger ?? createLogger(config.logLevel, deps.logStream);
  const ownPool = !deps.pool;
  const pool =
    deps.pool ??
    new Pool({
      connectionString: config.databaseUrl,
      max: limits.dbPoolSize,
      connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
      // Client connections to PgBouncer are cheap; keeping them spares a burst of uploads N SCRAM logins.
      idleTimeoutMillis: 0,
      keepAlive: true,
      application_name: 'powerhouse-ingest',
    });
  // Progress lookups, readiness and the catalog must not queue behind long COPYs holding the upload pool
  // (the tier's PgBouncer ingest pool has INGEST_OPS_CONNECTIONS server connections beyond the uploads).
  const opsPool = new Pool({
    connectionString: config.databaseUrl,
    max: INGEST_OPS_CONNECTIONS,
    connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
    // Never idle out: PgBouncer fills the ingest entry's min_pool_size only while the pool has a client, and
    // the ops connection opened for the catalog at start is that client.
    idleTimeoutMillis: 0,
    keepAlive: true,
    application_name: 'powerhouse-ingest-ops',
  });
  for (const p of [pool, opsPool])
    p.on('error', (err) => log.warn({ err }, 'idle database connection failed'));
  // A pool handed in by the caller is the caller's to size.
  const warmer = ownPool
    ? new PoolWarmer(
        pool,
        Math.min(limits.dbPoolKeepOpen ?? limits.maxConcurrentUploads, limits.dbPoolSize),
        log,
      )
    : undefined;

  // Tokens and tables can change on reload(); everything else in config needs a restart.
  let auth = new TokenVerifier(config.tokens, config.adminTokenSha256);
  let tables = config.tables;
  const metrics = createMetrics(pool, { defaultMetrics: deps.defaultMetrics });
  const tracker = new UploadTracker();
  const slots = new UploadSlots(limits.maxConcurrentUploads, limits.maxConcurrentUploadsPerToken);
  const inflight = new Set<Promise<void>>();
  /** Upload id of a request, for its access-log line. */
  const uploadIds = new WeakMap<IncomingMessage, string>();
  let catalog = new Map<string, CatalogTable>();
  let closing = false;
  let closed: Promise<void> | undefined;
  let baseUrl: string | undefined;

  const server: Server = createServer(
    { requestTimeout: 0, headersTimeout: HEADERS_TIMEOUT_MS },
    (req, res) => {
      const t0 = performance.now();
      const handled = handle(req, res)
        .catch((err) => {
          log.error({ err }, 'request handler failed');
          send(res, httpErrors.internal('internal error'));
        })
        .then(() => finished(res))
        .finally(() => {
          inflight.delete(handled);
          log.info(
            {
              req: { method: req.method, url: req.url, headers: req.headers },
              uploadId: uploadIds.get(req),
              status: res.statusCode,
              ms: Math.round(performance.now() - t0),
            },
            'request',
          );
        });
      inflight.add(handled);
    },
  );
  // Long uploads are bounded by the idle timer in upload.ts, not by a total request time.
  server.requestTimeout = 0;
  server.headersTimeout = HEADERS_TIMEOUT_MS;

  function finished(res: ServerResponse): Promise<void> {
    if (res.writableFinished || res.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      res.once('finish', resolve);
      res.once('close', resolve);
    });
  }

  function sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) return;
    const extra: Record<string, string> = closing ? { Connection: 'close' } : {};
    // An early answer (bad token, 503, bad row) while the client is still sending: keep the socket open so
    // drainBody can read the rest. Closing it now (as `Connection: close` from the client would) leaves
    // unread bytes in the kernel, which answers them with a reset that can destroy our response in flight.
    if (!res.req.complete && !closing) res.shouldKeepAlive = true;
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      ...extra,
      ...headers,
    });
    res.end(JSON.stringify(body));
  }

  function send(res: ServerResponse, err: HttpError): void {
    metrics.errors.inc({ kind: err.kind });
    sendJson(res, err.status, err.body, err.headers);
  }

  /**
   * Reads and discards what is left of a request body after an early answer, so the client can finish
   * sending and read the response; bounded by maxBodyBytes and the idle timeout, past which the socket goes.
   */
  function drainBody(req: IncomingMessage): void {
    if (req.complete || req.destroyed) return;
    let bytes = 0;
    const timer = setTimeout(() => req.destroy(), limits.idleTimeoutMs);
    const stop = () => clearTimeout(timer);
    req.on('error', stop);
    req.on('end', stop);
    req.on('close', stop);
    // Once the response is done, Node no longer ties the request to its socket: watch the socket itself.
    req.socket.once('close', stop);
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      timer.refresh();
      if (bytes > limits.maxBodyBytes) {
        stop();
        req.destroy();
      }
    });
    req.resume();
  }

  function authenticate(req: IncomingMessage): AuthToken {
    const token = auth.authenticate(req.headers.authorization);
    if (!token) throw httpErrors.unauthorized();
    return token;
  }

  /** Allowlisted table the token may write: 401, then 404 (allowlist only), then 403. */
  function tableFor(req: IncomingMessage, encodedName: string): { token: AuthToken; table: CatalogTable } {
    const token = authenticate(req);
    let name: string;
    try {
      name = decodeURIComponent(encodedName);
    } catch {
      throw httpErrors.unknownTable();
    }
    const table = catalog.get(name);
    if (!table) throw httpErrors.unknownTable();
    if (!canWrite(token, name)) throw httpErrors.forbidden();
    return { token, table };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on('error', () => undefined); // a client reset is handled where the body is read
    const url = new URL(req.url ?? '/', 'http://ingest.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    try {
      const upload = /^\/v1\/tables\/([^/]+)\/uploads$/.exec(path);
      if (upload) {
        if (method !== 'POST') throw httpErrors.methodNotAllowed('POST');
        return await handleUpload(req, res, upload[1], url);
      }
      if (method !== 'GET' && method !== 'HEAD') throw httpErrors.methodNotAllowed('GET');
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') return await handleReady(res);
      if (path === '/metrics') {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
        res.end(text);
        return;
      }
      const describe = /^\/v1\/tables\/([^/]+)$/.exec(path);
      if (describe) return handleDescribe(req, res, describe[1]);
      const byId = /^\/v1\/uploads\/([^/]+)$/.exec(path);
      if (byId) return await handleUploadStatus(req, res, byId[1]);
      if (path === '/v1/uploads') return await handleUploadByKey(req, res, url);
      if (path === '/v1/admin/pgbouncer') return await handleAdminPgBouncer(req, res);
      throw httpErrors.notFound();
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      send(res, err);
      drainBody(req);
    }
  }

  async function handleUpload(req: IncomingMessage, res: ServerResponse, encodedName: string, url: URL) {
    if (closing) throw httpErrors.unavailable('the worker is shutting down', limits.retryAfterSeconds);
    const { token, table } = tableFor(req, encodedName);
    const format = formatFromContentType(req.headers['content-type']);
    if (!format) throw httpErrors.unsupportedMediaType();
    // No content coding is decoded: a compressed body would otherwise be parsed as rows (RFC 9110 §8.4.1: 415).
    const coding = req.headers['content-encoding']?.trim().toLowerCase();
    if (coding && coding !== 'identity')
      throw new HttpError(415, 'unsupported_media_type', {
        error: 'unsupported_media_type',
        message: `Content-Encoding ${coding} is not supported: send the body uncompressed`,
      });
    for (const key of url.searchParams.keys())
      if (!UPLOAD_PARAMS.has(key))
        throw httpErrors.badRequest(`unknown query parameter "${key}" (allowed: columns)`);
    const columnsParam = url.searchParams.get('columns');
    const requestedColumns = columnsParam === null ? undefined : columnsParam.split(',');
    if (requestedColumns?.some((c) => c === ''))
      throw httpErrors.badRequest('columns: empty column name (use ?columns=a,b,c)');
    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey))
      throw httpErrors.badRequest('Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limits.maxBodyBytes)
      throw httpErrors.tooLarge(
        limits.maxBodyBytes,
        `Content-Length ${declared} is over ${limits.maxBodyBytes} bytes`,
      );

    const slot = slots.tryAcquire(token.id);
    if ('refused' in slot) {
      throw httpErrors.unavailable(
        slot.refused === 'global'
          ? `the worker is at its limit of ${limits.maxConcurrentUploads} concurrent uploads`
          : `this token is at its limit of ${limits.maxConcurrentUploadsPerToken} concurrent uploads`,
        limits.retryAfterSeconds,
      );
    }
    let outcome;
    try {
      outcome = await runUpload(
        { pool, limits, tracker, metrics, log, serverWaitMs },
        { req, res, tokenId: token.id, table, format, requestedColumns, idempotencyKey },
      );
    } finally {
      slot.release();
    }
    if (!outcome) return; // the client is gone
    uploadIds.set(req, outcome.uploadId);
    sendJson(res, outcome.status, outcome.body, outcome.headers);
    drainBody(req);
  }

  async function handleReady(res: ServerResponse): Promise<void> {
    if (closing) return sendJson(res, 503, { status: 'unavailable', message: 'shutting down' });
    const t0 = performance.now();
    try {
      const answered = opsPool.query('SELECT 1').then(() => true);
      answered.catch(() => undefined);
      // Saturated by uploads, PgBouncer queues the probe for up to query_wait_timeout: do not wait that long.
      if ((await Promise.race([answered, delay(READY_TIMEOUT_MS)])) === 'timeout')
        throw new Error(`no answer within ${READY_TIMEOUT_MS} ms`);
      sendJson(res, 200, { status: 'ready', latencyMs: +(performance.now() - t0).toFixed(2) });
    } catch (err) {
      sendJson(
        res,
        503,
        {
          status: 'unavailable',
          message: `database: ${(err as Error).message}`,
          latencyMs: +(performance.now() - t0).toFixed(2),
        },
        { 'Retry-After': String(limits.retryAfterSeconds) },
      );
    }
  }

  function handleDescribe(req: IncomingMessage, res: ServerResponse, encodedName: string): void {
    const { table } = tableFor(req, encodedName);
    sendJson(res, 200, {
      table: table.name,
      columns: table.writable.map((c) => ({
        name: c.name,
        type: c.type,
        // The base type's oid (domains resolved): lets a client pick the binary encoder for a domain column.
        typeOid: c.typeOid,
        nullable: c.nullable,
        hasDefault: c.hasDefault,
      })),
    });
  }

  /** A lookup on the ops pool, bounded like an upload's wait for a server connection. */
  async function dbQuery<R extends object>(sql: string, params: unknown[]): Promise<R[]> {
    const pending = opsPool.query(sql, params);
    pending.catch(() => undefined);
    try {
      const result = await Promise.race([pending, delay(serverWaitMs)]);
      if (result === 'timeout') throw new DatabaseWaitError(`no database answer within ${serverWaitMs} ms`);
      return result.rows as R[];
    } catch (err) {
      if (isConnectionError(err))
        throw httpErrors.unavailable(
          `database unavailable: ${(err as Error).message}`,
          limits.retryAfterSeconds,
        );
      throw err;
    }
  }

  async function handleUploadStatus(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const token = authenticate(req);
    if (!UUID.test(id)) throw httpErrors.unknownUpload();
    let status = tracker.get(id, token.id);
    if (!status) {
      const rows = await dbQuery<DbUploadRow>(
        `SELECT upload_id, table_name, status, rows, bytes, error FROM powerhouse.uploads
          WHERE upload_id = $1 AND token_id = $2`,
        [id, token.id],
      );
      if (rows.length) status = dbStatus(rows[0]);
    }
    if (!status) throw httpErrors.unknownUpload();
    sendJson(res, 200, status);
  }

  async function handleUploadByKey(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = authenticate(req);
    const key = url.searchParams.get('idempotencyKey');
    const table = url.searchParams.get('table') ?? undefined;
    if (key === null || !IDEMPOTENCY_KEY.test(key))
      throw httpErrors.badRequest('idempotencyKey must be 1-128 characters of A-Z a-z 0-9 . _ : -');
    // A running upload first; then the durable record (a committed one wins over failed attempts).
    let status = tracker.liveByKey(token.id, key, table);
    if (!status) {
      const rows = await dbQuery<DbUploadRow>(
        `SELECT upload_id, table_name, status, rows, bytes, error FROM powerhouse.uploads
          WHERE token_id = $1 AND idempotency_key = $2 AND ($3::text IS NULL OR table_name = $3)
          ORDER BY status = 'committed' DESC, finished_at DESC LIMIT 1`,
        [token.id, key, table ?? null],
      );
      if (rows.length) status = dbStatus(rows[0]);
    }
    status ??= tracker.finishedByKey(token.id, key, table);
    if (!status) throw httpErrors.unknownUpload();
    sendJson(res, 200, status);
  }

  async function handleAdminPgBouncer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!auth.isAdmin(req.headers.authorization)) {
      throw auth.authenticate(req.headers.authorization) ? httpErrors.forbidden() : httpErrors.unauthorized();
    }
    if (!config.pgbouncerAdminUrl)
      throw httpErrors.unavailable('pgbouncerAdminUrl is not configured', limits.retryAfterSeconds);
    try {
      sendJson(res, 200, await pgbouncerSnapshot(config.pgbouncerAdminUrl));
    } catch (err) {
      log.warn({ err }, 'PgBouncer admin console query failed');
      throw httpErrors.unavailable(
        `PgBouncer admin console: ${(err as Error).message}`,
        limits.retryAfterSeconds,
      );
    }
  }

  async function reload(next?: IngestConfig): Promise<void> {
    const nextTables = next?.tables ?? tables;
    try {
      catalog = await loadCatalog(opsPool, nextTables);
    } catch (err) {
      log.error({ err }, 'reload failed (catalog); keeping the previous tables and tokens');
      throw err;
    }
    tables = nextTables;
    if (next) {
      auth = new TokenVerifier(next.tokens, next.adminTokenSha256);
      const needRestart = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
      if (needRestart.length)
        log.warn({ settings: needRestart }, 'changed settings that take effect only after a restart');
    }
    log.info(
      { tables: [...catalog.keys()], ...(next ? { tokens: next.tokens.map((t) => t.id) } : {}) },
      next ? 'configuration reloaded' : 'catalog reloaded',
    );
  }

  async function listen(port = config.listen.port, host = config.listen.host): Promise<string> {
    if (config.migrate) {
      const migrationPool = config.migrationDatabaseUrl
        ? new Pool({ connectionString: config.migrationDatabaseUrl, max: 1 })
        : opsPool;
      try {
        const applied = await migrate(migrationPool, { tables: config.tables });
        log.info({ applied }, applied.length ? 'schema migrated' : 'schema up to date');
      } finally {
        if (migrationPool !== opsPool) await migrationPool.end();
      }
    }
    catalog = await loadCatalog(opsPool, tables);
    // Listen with the upload connections open; if they cannot all be opened now, the warmer keeps trying.
    await warmer?.fill();
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
    log.info({ url: baseUrl, tables: [...catalog.keys()], limits }, 'ingest worker listening');
    return baseUrl;
  }

  async function shutdown(): Promise<void> {
    closing = true;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (inflight.size > 0) {
      log.info(
        { requests: inflight.size, graceMs: limits.shutdownGraceMs },
        'shutting down: waiting for uploads',
      );
      const all = () => Promise.all([...inflight]);
      if ((await Promise.race([all(), delay(limits.shutdownGraceMs)])) === 'timeout') {
        const live = tracker.liveUploads;
        log.warn({ uploads: live.map((u) => u.id) }, 'grace period over: aborting uploads');
        for (const u of live) u.abort(new ShutdownError('the worker is shutting down'));
        await Promise.race([all(), delay(ABORT_SETTLE_MS)]);
      }
    }
    server.closeAllConnections();
    await serverClosed;
    warmer?.stop();
    await Promise.all([ownPool ? pool.end() : undefined, opsPool.end()]);
    log.info('ingest worker stopped');
  }

  return {
    listen,
    reload,
    close: () => (closed ??= shutdown()),
    get url() {
      if (!baseUrl) throw new Error('the ingest server is not listening yet');
      return baseUrl;
    },
    registry: metrics.registry,
    log,
  };
}

// One upload = one transaction through PgBouncer's ingest pool:
//   BEGIN (+ Idempotency-Key: try-lock, replay check; one round trip) → COPY … FROM STDIN fed by
//   req → BodyTap (bytes, SHA-256, limit) → encoder → COPY stream → upload record → COMMIT.
// Any failure rolls back (CopyFail first if the COPY is open) so nothing is stored and the server connection
// goes back to the pool clean; when the connection's protocol state is unknown it is destroyed instead.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { escapeLiteral, type Pool, type PoolClient, type QueryResult, type QueryResultRow } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from 'pino';
import { BodyTap } from './body-tap';
import type { CatalogTable } from './catalog';
import type { IngestLimits } from './config';
import {
  ClientAbortedError,
  DatabaseWaitError,
  HttpError,
  httpErrors,
  isConnectionError,
  uploadErrorResponse,
  type ErrorKind,
} from './errors';
import {
  copyStatement,
  createCopyEncoder,
  type ColumnInfo,
  type CopyEncoder,
  type UploadFormat,
} from './formats';
import type { IngestMetrics } from './metrics';
import type { TrackedUpload, UploadTracker } from './upload-tracker';

/** Bound on ROLLBACK (and the failure record) after a failed upload; past it the connection is destroyed. */
const CLEANUP_TIMEOUT_MS = 10_000;
/**
 * Bound on getting a server connection (the BEGIN round trip). With PostgreSQL down PgBouncer keeps clients
 * queued for query_wait_timeout (minutes); the client should get its 503 + Retry-After well before that.
 */
export const SERVER_WAIT_MS = 10_000;

export interface UploadDeps {
  readonly pool: Pool;
  readonly limits: IngestLimits;
  readonly tracker: UploadTracker;
  readonly metrics: IngestMetrics;
  readonly log: Logger;
  /** Bound on the wait for a server connection; default SERVER_WAIT_MS. */
  readonly serverWaitMs?: number;
}

export interface UploadRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly tokenId: string;
  readonly table: CatalogTable;
  readonly format: UploadFormat;
  readonly requestedColumns?: string[];
  readonly idempotencyKey?: string;
}

export interface UploadOutcome {
  readonly uploadId: string;
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly kind: 'committed' | 'replayed' | ErrorKind;
}

interface UploadRecordRow {
  upload_id: string;
  rows: string;
  bytes: string;
  body_sha256: Buffer;
  duration_ms: number;
}

type CopyStream = ReturnType<typeof copyFrom>;

/** Runs one upload; resolves to the response to send, or null when the client is gone. Never rejects. */
export function runUpload(deps: UploadDeps, request: UploadRequest): Promise<UploadOutcome | null> {
  return new UploadRun(deps, request).run();
}

class UploadRun {
  private readonly id = randomUUID();
  private readonly startedAt = new Date();
  private readonly t0 = performance.now();
  private readonly ac = new AbortController();
  private readonly log: Logger;
  private readonly tap: BodyTap;
  private readonly tracked: TrackedUpload;
  private resolveDone!: () => void;
  private firstError: unknown;
  private client?: PoolClient;
  private clientBroken = false;
  private released = false;
  private encoder?: CopyEncoder;
  private copy?: CopyStream;
  private copyColumns?: ColumnInfo[];
  private copyErrored = false;
  private copyDone = false;
  private committed = false;
  private replaying = false;
  private idleTimer?: NodeJS.Timeout;
  /** ms from the request to a pool connection, and to BEGIN answered: the queue the user waited in. */
  private readonly waitMs = { connect: 0, begin: 0 };

  constructor(
    private readonly deps: UploadDeps,
    private readonly u: UploadRequest,
  ) {
    this.log = deps.log.child({ uploadId: this.id, table: u.table.name, tokenId: u.tokenId });
    this.tap = new BodyTap(deps.limits.maxBodyBytes, (bytes) => {
      this.tracked.bytes = bytes;
      this.idleTimer?.refresh();
    });
    this.tracked = {
      id: this.id,
      tokenId: u.tokenId,
      table: u.table.name,
      idempotencyKey: u.idempotencyKey,
      startedAt: Date.now(),
      state: 'receiving',
      bytes: 0,
      rows: () => this.encoder?.rowsSeen() ?? 0,
      abort: (err) => this.fail(err),
      done: new Promise<void>((resolve) => (this.resolveDone = resolve)),
    };
  }

  /** Records the first cause of failure and stops everything that is waiting. */
  private readonly fail = (err: unknown): void => {
    if (this.firstError !== undefined) return;
    this.firstError = err ?? new Error('upload failed');
    this.ac.abort(this.firstError);
  };

  private readonly onReqError = (err: Error) =>
    this.fail(new ClientAbortedError(`client connection error: ${err.message}`));
  private readonly onReqClose = () => {
    if (!this.u.req.complete) this.fail(new ClientAbortedError('client disconnected mid-body'));
  };
  private readonly onResClose = () => {
    if (!this.u.res.writableFinished)
      this.fail(new ClientAbortedError('client disconnected before the response'));
  };
  private readonly onReqEnd = () => this.stopIdleTimer();
  private readonly onClientError = (err: Error) => {
    this.clientBroken = true;
    this.fail(err);
  };

  async run(): Promise<UploadOutcome | null> {
    const { tracker, metrics } = this.deps;
    if (!tracker.claim(this.tracked)) {
      this.resolveDone();
      return this.errorOutcome(httpErrors.inProgress());
    }
    const { req, res } = this.u;
    req.on('error', this.onReqError);
    req.on('close', this.onReqClose);
    req.on('end', this.onReqEnd);
    res.on('close', this.onResClose);
    metrics.active.inc();
    let outcome: UploadOutcome | null;
    try {
      outcome = await this.execute();
    } catch (err) {
      outcome = await this.failed(err);
    } finally {
      this.stopIdleTimer();
      req.removeListener('close', this.onReqClose);
      req.removeListener('end', this.onReqEnd);
      res.removeListener('close', this.onResClose);
      // req keeps an 'error' listener: a reset while the server drains the rest of the body must not crash us.
      metrics.active.dec();
      tracker.finish(this.tracked, !this.replaying);
      this.resolveDone();
    }
    const seconds = (performance.now() - this.t0) / 1000;
    const kind = outcome?.kind ?? 'client_aborted';
    metrics.duration.observe({ table: this.u.table.name, outcome: kind }, seconds);
    metrics.uploads.inc({ table: this.u.table.name, status: outcome ? String(outcome.status) : 'aborted' });
    if (!outcome || outcome.status >= 400) metrics.errors.inc({ kind });
    return outcome;
  }

  private async execute(): Promise<UploadOutcome> {
    const { pool, limits, metrics } = this.deps;
    const { table, idempotencyKey, tokenId } = this.u;
    try {
      this.client = await pool.connect();
      this.waitMs.connect = Math.round(performance.now() - this.t0);
    } catch (err) {
      throw httpErrors.unavailable(
        `database unavailable: ${(err as Error).message}`,
        limits.retryAfterSeconds,
      );
    }
    this.client.on('error', this.onClientError);
    const prev = await this.begin();
    this.waitMs.begin = Math.round(performance.now() - this.t0);
    metrics.queueWait.observe(this.waitMs.begin / 1000);
    if (prev) return await this.replay(prev);

    await this.copyBody();
    this.tracked.state = 'committing';
    const rows = this.copy?.rowCount ?? 0;
    const bytes = this.tap.bytes;
    const durationMs = Math.round(performance.now() - this.t0);
    await this.query(
      `INSERT INTO powerhouse.uploads (upload_id, token_id, table_name, idempotency_key, status, rows, bytes, body_sha256,
                                       started_at, finished_at, duration_ms)
       VALUES ($1, $2, $3, $4, 'committed', $5, $6, $7, $8, clock_timestamp(), $9)`,
      [
        this.id,
        tokenId,
        table.name,
        idempotencyKey ?? null,
        rows,
        bytes,
        this.tap.digest(),
        this.startedAt,
        durationMs,
      ],
      false,
    );
    await this.query('COMMIT', undefined, false);
    this.committed = true;
    this.release(false);
    this.tracked.state = 'committed';
    this.tracked.rows = () => rows;
    metrics.rows.inc({ table: table.name }, rows);
    metrics.bytes.inc({ table: table.name }, bytes);
    this.log.info({ rows, bytes, durationMs, waitMs: this.waitMs }, 'upload committed');
    return {
      uploadId: this.id,
      status: 201,
      body: { uploadId: this.id, table: table.name, rows, bytes, durationMs },
      headers: {},
      kind: 'committed',
    };
  }

  /**
   * BEGIN and, with an Idempotency-Key, the key's lock and replay check, in one round trip (a simple query of
   * three statements): on a busy worker every round trip waits its turn on the event loop, and the body is
   * not read before this returns. Values go in as escaped literals (simple queries take no parameters).
   * Returns the committed upload of the same key, if there is one.
   */
  private async begin(): Promise<UploadRecordRow | undefined> {
    const { table, idempotencyKey, tokenId } = this.u;
    const waitMs = this.deps.serverWaitMs ?? SERVER_WAIT_MS;
    if (idempotencyKey === undefined) {
      await this.query('BEGIN', undefined, true, waitMs);
      return undefined;
    }
    const lockKey = JSON.stringify(['powerhouse.upload', tokenId, table.name, idempotencyKey]);
    // Transaction-scoped lock: held until COMMIT/ROLLBACK, so a second worker sees the key as in progress.
    const results = (await this.query(
      `BEGIN;
       SELECT pg_try_advisory_xact_lock(hashtextextended(${escapeLiteral(lockKey)}, 0)) AS ok;
       SELECT upload_id, rows, bytes, body_sha256, duration_ms FROM powerhouse.uploads
        WHERE token_id = ${escapeLiteral(tokenId)} AND table_name = ${escapeLiteral(table.name)}
          AND idempotency_key = ${escapeLiteral(idempotencyKey)} AND status = 'committed'`,
      undefined,
      true,
      waitMs,
    )) as unknown as [QueryResult, QueryResult<{ ok: boolean }>, QueryResult<UploadRecordRow>];
    if (!results[1].rows[0].ok) throw httpErrors.inProgress();
    return results[2].rows[0];
  }

  /** The key already committed: nothing is written; the body is read only to compare its SHA-256. */
  private async replay(prev: UploadRecordRow): Promise<UploadOutcome> {
    this.replaying = true;
    await this.query('ROLLBACK');
    this.release(false);
    this.startIdleTimer();
    this.u.req.pipe(this.tap);
    const discard = new Writable({ write: (_c, _e, cb) => cb() });
    await pipeline(this.tap, discard, { signal: this.ac.signal });
    if (!this.tap.digest().equals(prev.body_sha256)) throw httpErrors.keyReused();
    const body = {
      uploadId: prev.upload_id,
      table: this.u.table.name,
      rows: Number(prev.rows),
      bytes: Number(prev.bytes),
      durationMs: prev.duration_ms,
      replayed: true,
    };
    this.log.info({ originalUploadId: prev.upload_id }, 'upload replayed');
    return { uploadId: prev.upload_id, status: 200, body, headers: {}, kind: 'replayed' };
  }

  private async copyBody(): Promise<void> {
    const { limits } = this.deps;
    const { table, format, requestedColumns } = this.u;
    const encoder = createCopyEncoder({
      format,
      tableColumns: [...table.columns],
      requestedColumns,
      maxFieldBytes: limits.maxFieldBytes,
      chunkBytes: limits.copyChunkBytes,
    });
    encoder.columns.catch(() => undefined); // its failure also surfaces through the transform
    this.encoder = encoder;
    // Fail at once (not when the pipeline has unwound) so a COPY waiting on the server is stopped promptly.
    this.tap.on('error', this.fail);
    encoder.transform.on('error', this.fail);
    this.startIdleTimer();
    this.u.req.pipe(this.tap);
    await pipeline(this.tap, encoder.transform, (source: AsyncIterable<Buffer>) => this.feedCopy(source), {
      signal: this.ac.signal,
    });
    this.copyDone = true;
  }

  /** The pipeline's sink: opens the COPY once the encoder knows the columns, writes with backpressure. */
  private async feedCopy(source: AsyncIterable<Buffer>): Promise<void> {
    for await (const chunk of source) {
      const copy = this.copy ?? (await this.openCopy());
      if (this.copyErrored) throw this.firstError;
      // One chunk in flight at a time: pg-copy-streams then never batches (_writev) behind a dead connection.
      if (!copy.write(chunk)) await this.waitFor(copy, 'drain');
    }
    if (!this.copy) return; // no rows encoded: nothing to COPY
    const copy = this.copy;
    const finished = this.waitFor(copy, 'finish'); // 'finish' = CommandComplete and ReadyForQuery received
    copy.end();
    await finished;
  }

  private async openCopy(): Promise<CopyStream> {
    const encoder = this.encoder!;
    const columns = await encoder.columns;
    if (this.firstError !== undefined) throw this.firstError; // do not start a COPY only to cancel it
    this.copyColumns = columns;
    const sql = copyStatement(
      { schema: this.u.table.schema, name: this.u.table.table },
      columns,
      encoder.copyFormat,
    );
    const copy = this.client!.query(copyFrom(sql));
    // Kept for the stream's lifetime: pg-copy-streams may emit 'error' more than once.
    copy.on('error', (err: Error) => {
      this.copyErrored = true;
      this.fail(err);
    });
    this.copy = copy;
    return copy;
  }

  private waitFor(stream: NodeJS.EventEmitter, event: string): Promise<void> {
    const signal = this.ac.signal;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onEvent = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        stream.removeListener(event, onEvent);
        reject(signal.reason);
      };
      stream.once(event, onEvent);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * A query on the upload's connection. Abortable ones give up on abort (or after timeoutMs) and mark the
   * connection unusable, since its reply is still due.
   */
  private query<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: unknown[],
    abortable = true,
    timeoutMs?: number,
  ): Promise<QueryResult<R>> {
    const signal = this.ac.signal;
    if (abortable && signal.aborted) return Promise.reject(signal.reason);
    const pending = this.client!.query<R>(sql, params);
    if (!abortable) return pending;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = (reason: unknown) => {
        this.clientBroken = true;
        pending.catch(() => undefined);
        reject(reason);
      };
      const onAbort = () => giveUp(signal.reason);
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          giveUp(new DatabaseWaitError(`no database server connection within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      pending.then(
        (r) => {
          settle();
          resolve(r);
        },
        (e) => {
          settle();
          reject(e);
        },
      );
    });
  }

  private async failed(err: unknown): Promise<UploadOutcome | null> {
    this.fail(err);
    const cause = this.firstError;
    this.stopIdleTimer();
    this.u.req.unpipe(this.tap);
    // End an open COPY with CopyFail so the server leaves COPY mode; not when it already ended it (sending on
    // a stream whose connection pg-copy-streams has dropped throws).
    if (this.copy && !this.copyDone && !this.copyErrored) {
      try {
        this.copy.destroy(cause instanceof Error ? cause : new Error(String(cause)));
      } catch (e) {
        this.log.warn({ err: e }, 'could not send CopyFail; the connection will be destroyed');
        this.clientBroken = true;
      }
    }
    const response = this.mapError(cause);
    if (this.client && !this.released) {
      let clean = !this.clientBroken && !isConnectionError(cause);
      if (clean && !this.committed) clean = await this.cleanup('ROLLBACK');
      if (clean && response?.kind !== 'upload_in_progress' && !this.replaying) {
        await this.recordFailure(
          response?.body ?? { error: 'client_aborted', message: (cause as Error).message },
        );
      }
      this.release(!clean);
    }
    this.tracked.state = 'failed';
    this.tracked.error = response?.body ?? { error: 'client_aborted' };
    const logFields = {
      err: cause,
      status: response?.status,
      rowsSeen: this.encoder?.rowsSeen(),
      bytes: this.tap.bytes,
    };
    if (!response || response.status < 500) this.log.info(logFields, 'upload failed; rolled back');
    else this.log.error(logFields, 'upload failed; rolled back');
    return response;
  }

  private mapError(cause: unknown): UploadOutcome | null {
    if (cause instanceof ClientAbortedError) return null;
    const err =
      (cause as { constraint?: string })?.constraint === 'uploads_committed_key_idx'
        ? httpErrors.inProgress()
        : uploadErrorResponse(cause, {
            format: this.u.format,
            columns: this.copyColumns,
            maxBodyBytes: this.deps.limits.maxBodyBytes,
            retryAfterSeconds: this.deps.limits.retryAfterSeconds,
          });
    return this.errorOutcome(err);
  }

  private errorOutcome(err: HttpError): UploadOutcome {
    return { uploadId: this.id, status: err.status, body: err.body, headers: err.headers, kind: err.kind };
  }

  /** Runs a statement on the upload's connection with a bound; false when it failed or took too long. */
  private async cleanup(sql: string, params?: unknown[]): Promise<boolean> {
    const pending = this.client!.query(sql, params);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>(
      (resolve) => (timer = setTimeout(() => resolve(false), CLEANUP_TIMEOUT_MS)),
    );
    try {
      return await Promise.race([pending.then(() => true), timeout]);
    } catch (err) {
      this.log.warn({ err }, `${sql.split(/\s/)[0]} after a failed upload did not succeed`);
      return false;
    } finally {
      clearTimeout(timer);
      pending.catch(() => undefined);
    }
  }

  /** Best effort, after the rollback: lets GET /v1/uploads find a failed upload after this process is gone. */
  private async recordFailure(error: Record<string, unknown>): Promise<void> {
    const ok = await this.cleanup(
      `INSERT INTO powerhouse.uploads (upload_id, token_id, table_name, idempotency_key, status, rows, bytes, error,
                                       started_at, finished_at, duration_ms)
       VALUES ($1, $2, $3, $4, 'failed', 0, $5, $6, $7, clock_timestamp(), $8)`,
      [
        this.id,
        this.u.tokenId,
        this.u.table.name,
        this.u.idempotencyKey ?? null,
        this.tap.bytes,
        JSON.stringify(error),
        this.startedAt,
        Math.round(performance.now() - this.t0),
      ],
    );
    if (!ok) this.log.warn('could not record the failed upload');
  }

  /** Returns the connection exactly once; destroys it when its protocol state is unknown. */
  private release(destroy: boolean): void {
    if (this.released || !this.client) return;
    this.released = true;
    const client = this.client;
    client.removeListener('error', this.onClientError);
    if (destroy) {
      client.on('error', () => undefined); // it is being torn down; late socket errors are expected
      client.release(new Error('connection state unknown after a failed upload'));
    } else {
      client.release();
    }
  }

  private startIdleTimer(): void {
    if (this.u.req.complete) return;
    const ms = this.deps.limits.idleTimeoutMs;
    this.idleTimer = setTimeout(() => {
      // Paused by our own backpressure (the database is slower than the client): not the client's idleness.
      if (this.u.req.readableFlowing === false && !this.u.req.complete) {
        this.idleTimer?.refresh();
        return;
      }
      this.fail(httpErrors.badRequest(`no request body data for ${ms} ms; upload aborted, nothing stored`));
    }, ms);
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

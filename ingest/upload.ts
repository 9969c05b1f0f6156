// One upload = one transaction through PgBouncer's ingest pool:
//   BEGIN (+ Idempotency-Key: try-lock, replay check; one round trip) → COPY … FROM STDIN fed by
//   req → BodyTap (bytes, SHA-256, limit) → encoder → COPY stream → upload record → COMMIT.
// Any failure rolls back (CopyFail first if the COPY is open) so nothing is stored and the server connection
// goes back to the pool clean; when the connection's protocol state is unknown it is destroyed instead.
// Where an upload is lives in one value, UploadRun.state (RunState below), changed only by UploadRun.to().
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
import { withDeadline } from './deadline';
import { CopyParts, type ParallelCopyOptions } from './copy-parts/parts';
import { partsLockSql, resolvePreparedParts } from './copy-parts/resolver';
import { createRowCutter, type RowCutter } from './copy-parts/row-cutter';
import { failpoint } from './failpoints';
import type { IngestMetrics } from './metrics';
import { eventOrAbort } from './event-or-abort';
import { HeldConnection } from './held-connection';
import { CopyTurnTimeout, type CopyGate } from './copy-gate';
import type { TrackedUpload, UploadState, UploadTracker } from './upload-tracker';

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
  /** Parallel COPY of one upload (copy-parts/parts.ts); absent or maxParts 1: one COPY per upload. */
  readonly parallel?: ParallelCopyOptions;
  /** COPY turns (copy-gate.ts); absent: no waiting. */
  readonly gate?: CopyGate;
}

export interface UploadRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly tokenId: string;
  readonly table: CatalogTable;
  readonly format: UploadFormat;
  readonly requestedColumns?: string[];
  readonly idempotencyKey?: string;
  /** The request's Content-Length, when it has one. */
  readonly declaredBytes?: number;
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
  parts: number;
}

type CopyStream = ReturnType<typeof copyFrom>;

/** Runs one upload; resolves to the response to send, or null when the client is gone. Never rejects. */
export function runUpload(deps: UploadDeps, request: UploadRequest): Promise<UploadOutcome | null> {
  return new UploadRun(deps, request).run();
}

/**
 * Where an upload is; each phase holds what it needs (the connection, the COPY stream and its columns).
 * Transitions (NEXT):
 *   created → claimed → connected → copying → committing → committed
 *   created → refused                    the key is running in this worker (409)
 *   connected → committing               no rows: no COPY
 *   connected → replaying → replayed     the key committed before: the body is hashed, nothing written
 *   copying → copy_refused               the server ended the COPY with an error
 *   any phase from claimed on that is not final → rolling_back → failed
 */
type RunState =
  | { readonly phase: 'created' }
  | { readonly phase: 'refused' }
  | { readonly phase: 'claimed' }
  /** A connection is held; BEGIN (with the key's lock and replay check) is under way or done. */
  | { readonly phase: 'connected'; readonly conn: HeldConnection }
  | {
      readonly phase: 'copying' | 'copy_refused';
      readonly conn: HeldConnection;
      readonly copy: CopyStream;
      readonly columns: ColumnInfo[];
    }
  /** COPY complete (or no rows): the upload record and COMMIT. */
  | {
      readonly phase: 'committing';
      readonly conn: HeldConnection;
      readonly rows: number;
      readonly columns?: ColumnInfo[];
    }
  | { readonly phase: 'committed' }
  | { readonly phase: 'replaying'; readonly conn: HeldConnection }
  | { readonly phase: 'replayed' }
  | { readonly phase: 'rolling_back' | 'failed'; readonly during: Phase };
type Phase = RunState['phase'];

const NEXT: { readonly [P in Phase]: readonly Phase[] } = {
  created: ['claimed', 'refused'],
  refused: [],
  claimed: ['connected', 'rolling_back'],
  connected: ['copying', 'committing', 'replaying', 'rolling_back'],
  copying: ['copy_refused', 'committing', 'rolling_back'],
  copy_refused: ['rolling_back'],
  committing: ['committed', 'rolling_back'],
  committed: [],
  replaying: ['replayed', 'rolling_back'],
  replayed: [],
  rolling_back: ['failed'],
  failed: [],
};

/** The state GET /v1/uploads shows, where a phase changes it (the rollback keeps the one before). */
const SHOWN: { readonly [P in Phase]?: UploadState } = {
  committing: 'committing',
  committed: 'committed',
  failed: 'failed',
};

class UploadRun {
  private readonly id = randomUUID();
  private readonly startedAt = new Date();
  private readonly t0 = performance.now();
  /** Aborted, with the first cause of failure as its reason, when anything fails. */
  private readonly ac = new AbortController();
  private readonly log: Logger;
  private readonly tap: BodyTap;
  private readonly tracked: TrackedUpload;
  private resolveDone!: () => void;
  private state: RunState = { phase: 'created' };
  private encoder?: CopyEncoder;
  /** Set when the upload is split over several COPYs: its parts and the cutter that feeds them whole rows. */
  private parts?: CopyParts;
  private cutter?: RowCutter;
  private partsRows = 0;
  /** The decision (the upload record's COMMIT) was sent / is known committed: prepared parts must not roll back. */
  private decisionSent = false;
  private decided = false;
  private idleTimer?: NodeJS.Timeout;
  /** ms from the request to its COPY turn, to a pool connection, and to BEGIN answered: the queues it waited in. */
  private readonly waitMs = { turn: 0, connect: 0, begin: 0 };
  /** Gives the COPY turn back (a no-op until one is taken, and after). */
  private releaseTurn: () => void = () => undefined;

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
      declaredBytes: Number.isSafeInteger(u.declaredBytes) ? u.declaredBytes : undefined,
      state: 'receiving',
      bytes: 0,
      rows: () => this.encoder?.rowsSeen() ?? 0,
      abort: (err) => this.fail(err),
      done: new Promise<void>((resolve) => (this.resolveDone = resolve)),
    };
  }

  /** Moves to the next phase; anything but a transition of NEXT is a bug in this file. */
  private to<S extends RunState>(next: S): S {
    if (!NEXT[this.state.phase].includes(next.phase))
      throw new Error(`upload ${this.id}: no transition from ${this.state.phase} to ${next.phase}`);
    this.state = next;
    const shown = SHOWN[next.phase];
    if (shown) this.tracked.state = shown;
    return next;
  }

  /** Records the first cause of failure and stops everything that is waiting. */
  private readonly fail = (err: unknown): void => {
    if (this.ac.signal.aborted) return;
    this.ac.abort(err ?? new Error('upload failed'));
  };

  private get cause(): unknown {
    return this.ac.signal.reason;
  }

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

  async run(): Promise<UploadOutcome | null> {
    const { tracker, metrics } = this.deps;
    if (!tracker.claim(this.tracked)) {
      this.to({ phase: 'refused' });
      this.resolveDone();
      return this.errorOutcome(httpErrors.inProgress());
    }
    this.to({ phase: 'claimed' });
    const { req, res } = this.u;
    req.on('error', this.onReqError);
    req.on('close', this.onReqClose);
    req.on('end', this.onReqEnd);
    res.on('close', this.onResClose);
    metrics.active.inc();
    try {
      return await this.execute();
    } catch (err) {
      return await this.failed(err);
    } finally {
      this.stopIdleTimer();
      this.releaseTurn();
      req.removeListener('close', this.onReqClose);
      req.removeListener('end', this.onReqEnd);
      res.removeListener('close', this.onResClose);
      // req keeps an 'error' listener: a reset while the server drains the rest of the body must not crash us.
      metrics.active.dec();
      // A replay wrote nothing: its status is not kept for lookups.
      const s = this.state;
      const replay = s.phase === 'replayed' || (s.phase === 'failed' && s.during === 'replaying');
      tracker.finish(this.tracked, !replay);
      this.resolveDone();
    }
  }

  private async execute(): Promise<UploadOutcome> {
    const { pool, limits, metrics } = this.deps;
    const { table, idempotencyKey, tokenId } = this.u;
    await this.takeTurn();
    let client: PoolClient;
    try {
      client = await pool.connect();
      this.waitMs.connect = Math.round(performance.now() - this.t0);
    } catch (err) {
      throw httpErrors.unavailable(
        `database unavailable: ${(err as Error).message}`,
        limits.retryAfterSeconds,
      );
    }
    const { conn } = this.to({ phase: 'connected', conn: new HeldConnection(client, this.fail) });
    const prev = await this.begin(conn);
    this.waitMs.begin = Math.round(performance.now() - this.t0);
    metrics.queueWait.observe(this.waitMs.begin / 1000);
    if (prev) return await this.replay(conn, prev);

    await this.copyBody();
    const copied = this.state;
    const { rows } = this.to({
      phase: 'committing',
      conn,
      rows: copied.phase !== 'copying' ? 0 : this.parts ? this.partsRows : copied.copy.rowCount,
      columns: copied.phase === 'copying' ? copied.columns : undefined,
    });
    const parts = this.parts;
    if (parts) {
      await failpoint('parts-copied', this.log, this.ac.signal);
      await parts.prepare();
      await failpoint('parts-prepared', this.log, this.ac.signal);
    }
    const bytes = this.tap.bytes;
    const durationMs = Math.round(performance.now() - this.t0);
    await this.query(
      conn,
      `INSERT INTO powerhouse.uploads (upload_id, token_id, table_name, idempotency_key, status, rows, bytes, body_sha256,
                                       started_at, finished_at, duration_ms, parts)
       VALUES ($1, $2, $3, $4, 'committed', $5, $6, $7, $8, clock_timestamp(), $9, $10)`,
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
        parts?.count ?? 1,
      ],
      { abortable: false },
    );
    this.decisionSent = true;
    await this.query(conn, 'COMMIT', undefined, { abortable: false });
    this.decided = true;
    conn.release();
    this.releaseTurn();
    if (parts) await this.finishParts(parts);
    this.to({ phase: 'committed' });
    this.tracked.rows = () => rows;
    metrics.rows.inc({ table: table.name }, rows);
    metrics.bytes.inc({ table: table.name }, bytes);
    this.log.info(
      { rows, bytes, durationMs, waitMs: this.waitMs, parts: parts?.count ?? 1 },
      'upload committed',
    );
    return {
      uploadId: this.id,
      status: 201,
      body: { uploadId: this.id, table: table.name, rows, bytes, durationMs },
      headers: {},
      kind: 'committed',
    };
  }

  /**
   * After the decision: COMMIT PREPARED each part. If a part's connection fails, the resolver finishes them on a
   * fresh connection at once; only when that fails too is the upload answered 503 (retry to confirm).
   */
  private async finishParts(parts: CopyParts): Promise<void> {
    await failpoint('parts-decided', this.log, this.ac.signal);
    try {
      await parts.commit(
        () => failpoint('parts-between-commits', this.log, this.ac.signal) ?? Promise.resolve(),
      );
    } catch (err) {
      this.log.warn({ err }, 'COMMIT PREPARED failed; resolving the parts on a new connection');
      await resolvePreparedParts(this.deps.pool, this.log, this.id);
      parts.release();
    }
  }

  /**
   * Waits for a COPY turn (copy-gate.ts) unless the body is declared small. Meanwhile the upload is `queued`,
   * holds no connection and reads no body byte; past copyTurnWaitMs it is answered 503 (retry, same key).
   */
  private async takeTurn(): Promise<void> {
    const { gate, limits } = this.deps;
    const declared = this.u.declaredBytes;
    if (!gate || (declared !== undefined && declared <= limits.copyTurnFreeBytes)) return;
    if (gate.running >= gate.limit || gate.waiting > 0) this.tracked.state = 'queued';
    try {
      this.releaseTurn = await gate.acquire(this.ac.signal, limits.copyTurnWaitMs);
    } catch (err) {
      if (!(err instanceof CopyTurnTimeout)) throw err;
      throw httpErrors.unavailable(
        `every COPY turn of this worker was busy for ${err.waitedMs} ms (${err.limit} at a time); nothing was read or stored`,
        limits.retryAfterSeconds,
      );
    } finally {
      this.tracked.state = 'receiving';
    }
    this.waitMs.turn = Math.round(performance.now() - this.t0);
  }

  /**
   * BEGIN and, with an Idempotency-Key, the key's lock and replay check, in one round trip (a simple query of
   * three statements): on a busy worker every round trip waits its turn on the event loop, and the body is
   * not read before this returns. Values go in as escaped literals (simple queries take no parameters).
   * Returns the committed upload of the same key, if there is one.
   */
  private async begin(conn: HeldConnection): Promise<UploadRecordRow | undefined> {
    const { table, idempotencyKey, tokenId } = this.u;
    const timeoutMs = this.deps.serverWaitMs ?? SERVER_WAIT_MS;
    if (idempotencyKey === undefined) {
      await this.query(conn, 'BEGIN', undefined, { timeoutMs });
      return undefined;
    }
    // A split upload's coordinator holds its parts lock until the decision: resolvers leave its parts alone.
    const partsLock = this.splittable ? `;\n       ${partsLockSql(this.id, 'pg_advisory_xact_lock')}` : '';
    const lockKey = JSON.stringify(['powerhouse.upload', tokenId, table.name, idempotencyKey]);
    // Transaction-scoped lock: held until COMMIT/ROLLBACK, so a second worker sees the key as in progress.
    const results = (await this.query(
      conn,
      `BEGIN;
       SELECT pg_try_advisory_xact_lock(hashtextextended(${escapeLiteral(lockKey)}, 0)) AS ok;
       SELECT upload_id, rows, bytes, body_sha256, duration_ms, parts FROM powerhouse.uploads
        WHERE token_id = ${escapeLiteral(tokenId)} AND table_name = ${escapeLiteral(table.name)}
          AND idempotency_key = ${escapeLiteral(idempotencyKey)} AND status = 'committed'${partsLock}`,
      undefined,
      { timeoutMs },
    )) as unknown as [QueryResult, QueryResult<{ ok: boolean }>, QueryResult<UploadRecordRow>];
    if (!results[1].rows[0].ok) throw httpErrors.inProgress();
    return results[2].rows[0];
  }

  /** The key already committed: nothing is written; the body is read only to compare its SHA-256. */
  private async replay(conn: HeldConnection, prev: UploadRecordRow): Promise<UploadOutcome> {
    this.to({ phase: 'replaying', conn });
    await this.query(conn, 'ROLLBACK');
    conn.release();
    this.releaseTurn(); // hashing the body writes nothing
    // A split upload whose worker stopped after the decision: its last parts are committed before the 200.
    if (prev.parts > 1) await resolvePreparedParts(this.deps.pool, this.log, prev.upload_id);
    this.startIdleTimer();
    this.u.req.pipe(this.tap);
    const discard = new Writable({ write: (_c, _e, cb) => cb() });
    await pipeline(this.tap, discard, { signal: this.ac.signal });
    if (!this.tap.digest().equals(prev.body_sha256)) throw httpErrors.keyReused();
    this.to({ phase: 'replayed' });
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
  }

  /** The pipeline's sink: opens the COPY once the encoder knows the columns, writes with backpressure. */
  private async feedCopy(source: AsyncIterable<Buffer>): Promise<void> {
    for await (const chunk of source) {
      const s = this.state.phase === 'connected' ? await this.openCopy() : this.state;
      // The server ended the COPY (copy_refused), or the upload is failing: the cause is the signal's reason.
      if (s.phase !== 'copying') throw this.cause;
      if (this.parts) {
        const piece = this.cutter!.push(chunk);
        if (piece) await this.parts.write(piece);
        continue;
      }
      // One chunk in flight at a time: pg-copy-streams then never batches (_writev) behind a dead connection.
      if (!s.copy.write(chunk)) await eventOrAbort(s.copy, 'drain', this.ac.signal);
    }
    const s = this.state;
    if (s.phase === 'connected') return; // no rows encoded: nothing to COPY
    if (s.phase !== 'copying') throw this.cause;
    if (this.parts) {
      const last = this.cutter!.end();
      if (last) await this.parts.write(last);
      this.partsRows = await this.parts.finish();
      return;
    }
    const finished = eventOrAbort(s.copy, 'finish', this.ac.signal); // 'finish' = CommandComplete and ReadyForQuery received
    s.copy.end();
    await finished;
  }

  private async openCopy(): Promise<RunState> {
    const encoder = this.encoder!;
    const columns = await encoder.columns;
    const s = this.state;
    // Do not start a COPY only to cancel it.
    if (this.ac.signal.aborted || s.phase !== 'connected') throw this.cause;
    const sql = copyStatement(
      { schema: this.u.table.schema, name: this.u.table.table },
      columns,
      encoder.copyFormat,
    );
    const copy = s.conn.client.query(copyFrom(sql));
    // Kept for the stream's lifetime: pg-copy-streams may emit 'error' more than once.
    copy.on('error', (err: Error) => {
      const now = this.state;
      if (now.phase === 'copying' && now.copy === copy) this.to({ ...now, phase: 'copy_refused' });
      this.fail(this.parts ? this.parts.globalize(err, 0) : err);
    });
    if (this.splittable) {
      this.cutter = createRowCutter(encoder.copyFormat);
      this.parts = new CopyParts(
        {
          pool: this.deps.pool,
          uploadId: this.id,
          copySql: sql,
          copyFormat: encoder.copyFormat,
          options: this.deps.parallel!,
          signal: this.ac.signal,
          fail: this.fail,
          log: this.log,
          statementTimeoutMs: CLEANUP_TIMEOUT_MS,
        },
        copy,
      );
    }
    return this.to({ phase: 'copying', conn: s.conn, copy, columns });
  }

  /**
   * Split only uploads with an Idempotency-Key: after the decision a failure to finish the parts is answered
   * 503 (retry to confirm), which only a keyed upload can retry without storing its rows twice.
   */
  private get splittable(): boolean {
    const p = this.deps.parallel;
    return p !== undefined && p.maxParts > 1 && this.u.idempotencyKey !== undefined;
  }

  /**
   * A query on the upload's connection. Abortable ones (the default) give up on abort (or after timeoutMs)
   * and mark the connection unusable, since its reply is still due.
   */
  private query<R extends QueryResultRow = QueryResultRow>(
    conn: HeldConnection,
    sql: string,
    params?: unknown[],
    opts: { abortable?: boolean; timeoutMs?: number } = {},
  ): Promise<QueryResult<R>> {
    const { abortable = true, timeoutMs } = opts;
    const signal = this.ac.signal;
    if (abortable && signal.aborted) return Promise.reject(signal.reason);
    const pending = conn.client.query<R>(sql, params);
    if (!abortable) return pending;
    const giveUp = () => conn.markUnusable();
    return withDeadline(
      pending,
      timeoutMs,
      () => {
        giveUp();
        throw new DatabaseWaitError(`no database server connection within ${timeoutMs} ms`);
      },
      { signal, onAbort: giveUp },
    );
  }

  private async failed(err: unknown): Promise<UploadOutcome | null> {
    this.fail(err);
    const cause = this.cause;
    this.stopIdleTimer();
    this.u.req.unpipe(this.tap);
    const s = this.state;
    const conn = 'conn' in s ? s.conn : undefined;
    // End an open COPY with CopyFail so the server leaves COPY mode; not when it already ended it
    // (copy_refused: sending on a stream whose connection pg-copy-streams has dropped throws).
    if (s.phase === 'copying') {
      try {
        s.copy.destroy(cause instanceof Error ? cause : new Error(String(cause)));
      } catch (e) {
        this.log.warn({ err: e }, 'could not send CopyFail; the connection will be destroyed');
        s.conn.markUnusable();
      }
    }
    // Parts first, while this transaction still holds the parts lock (resolvers leave them to us meanwhile).
    await this.parts?.abandon(cause, this.decisionSent);
    const orphans = (this.parts?.preparedGids.length ?? 0) > 0;
    const response = this.decided
      ? this.errorOutcome(
          httpErrors.unavailable(
            `the upload is stored, but finishing its last parts was interrupted (${(cause as Error)?.message}): ` +
              'retry with the same Idempotency-Key to confirm it',
            this.deps.limits.retryAfterSeconds,
          ),
        )
      : this.mapError(cause, 'columns' in s ? s.columns : undefined);
    this.to({ phase: 'rolling_back', during: s.phase });
    if (conn?.held) {
      let clean = conn.usable && !isConnectionError(cause);
      if (clean) clean = await this.cleanup(conn, 'ROLLBACK');
      if (clean && response?.kind !== 'upload_in_progress' && s.phase !== 'replaying') {
        await this.recordFailure(
          conn,
          response?.body ?? { error: 'client_aborted', message: (cause as Error).message },
        );
      }
      if (!clean) conn.markUnusable();
      conn.release();
    }
    // Parts whose connection died with a fault: decided now from the record (the parts lock is free once this
    // transaction is over); if the database is still away, the worker's timer does it later.
    if (orphans)
      await resolvePreparedParts(this.deps.pool, this.log, this.id).catch((err: unknown) =>
        this.log.warn({ err }, 'upload parts left prepared; the resolver will finish them'),
      );
    this.tracked.error = response?.body ?? { error: 'client_aborted' };
    this.to({ phase: 'failed', during: s.phase });
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

  private mapError(cause: unknown, columns: ColumnInfo[] | undefined): UploadOutcome | null {
    if (cause instanceof ClientAbortedError) return null;
    const err =
      (cause as { constraint?: string })?.constraint === 'uploads_committed_key_idx'
        ? httpErrors.inProgress()
        : uploadErrorResponse(cause, {
            format: this.u.format,
            columns,
            maxBodyBytes: this.deps.limits.maxBodyBytes,
            retryAfterSeconds: this.deps.limits.retryAfterSeconds,
          });
    return this.errorOutcome(err);
  }

  private errorOutcome(err: HttpError): UploadOutcome {
    return { uploadId: this.id, status: err.status, body: err.body, headers: err.headers, kind: err.kind };
  }

  /** Runs a statement on the upload's connection with a bound; false when it failed or took too long. */
  private async cleanup(conn: HeldConnection, sql: string, params?: unknown[]): Promise<boolean> {
    try {
      return await withDeadline(
        conn.client.query(sql, params).then(() => true),
        CLEANUP_TIMEOUT_MS,
        () => false,
      );
    } catch (err) {
      this.log.warn({ err }, `${sql.split(/\s/)[0]} after a failed upload did not succeed`);
      return false;
    }
  }

  /** Best effort, after the rollback: lets GET /v1/uploads find a failed upload after this process is gone. */
  private async recordFailure(conn: HeldConnection, error: Record<string, unknown>): Promise<void> {
    const ok = await this.cleanup(
      conn,
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

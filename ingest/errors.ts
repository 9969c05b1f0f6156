// The error responses of docs/INGEST-API.md, and the mapping from whatever failed (a reader, a limit, the client,
// PostgreSQL, PgBouncer, the network) to exactly one of them.
import {
  BadRequestError,
  LimitError,
  RowError,
  mapCopyError,
  type ColumnInfo,
  type UploadFormat,
} from './formats';

/** Error kinds: the `error` field of the body and the `kind` label of the errors metric. */
export type ErrorKind =
  | 'bad_row'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'unknown_table'
  | 'unknown_upload'
  | 'unknown_token'
  | 'not_found'
  | 'method_not_allowed'
  | 'upload_in_progress'
  | 'token_exists'
  | 'idempotency_key_reused'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'wal_archive_backlog'
  | 'client_aborted'
  | 'internal';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly kind: ErrorKind,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : kind);
  }
}

export const httpErrors = {
  badRow: (row: number, column: string | undefined, message: string) =>
    new HttpError(400, 'bad_row', {
      error: 'bad_row',
      row,
      ...(column !== undefined ? { column } : {}),
      message,
    }),
  badRequest: (message: string) => new HttpError(400, 'bad_request', { error: 'bad_request', message }),
  unauthorized: () =>
    new HttpError(401, 'unauthorized', { error: 'unauthorized' }, { 'WWW-Authenticate': 'Bearer' }),
  forbidden: () => new HttpError(403, 'forbidden', { error: 'forbidden' }),
  unknownTable: () => new HttpError(404, 'unknown_table', { error: 'unknown_table' }),
  unknownUpload: () => new HttpError(404, 'unknown_upload', { error: 'unknown_upload' }),
  notFound: () => new HttpError(404, 'not_found', { error: 'not_found' }),
  methodNotAllowed: (allow: string) =>
    new HttpError(405, 'method_not_allowed', { error: 'method_not_allowed' }, { Allow: allow }),
  inProgress: () => new HttpError(409, 'upload_in_progress', { error: 'upload_in_progress' }),
  tokenExists: (message: string) => new HttpError(409, 'token_exists', { error: 'token_exists', message }),
  unknownToken: (message: string) => new HttpError(404, 'unknown_token', { error: 'unknown_token', message }),
  keyReused: () => new HttpError(422, 'idempotency_key_reused', { error: 'idempotency_key_reused' }),
  tooLarge: (limit: number, message?: string) =>
    new HttpError(413, 'too_large', { error: 'too_large', limit, ...(message ? { message } : {}) }),
  unsupportedMediaType: () =>
    new HttpError(415, 'unsupported_media_type', { error: 'unsupported_media_type' }),
  unavailable: (message: string, retryAfterSeconds: number) =>
    new HttpError(
      503,
      'unavailable',
      { error: 'unavailable', message },
      { 'Retry-After': String(retryAfterSeconds) },
    ),
  /** Un-archived WAL at the tier's disk margin: refused before any database work, nothing stored. */
  walArchiveBacklog: (
    message: string,
    archiveLagBytes: number,
    walMarginBytes: number,
    retryAfterSeconds: number,
  ) =>
    new HttpError(
      503,
      'wal_archive_backlog',
      { error: 'wal_archive_backlog', message, archiveLagBytes, walMarginBytes },
      { 'Retry-After': String(retryAfterSeconds) },
    ),
  internal: (message: string) => new HttpError(500, 'internal', { error: 'internal', message }),
};

/** The client went away mid-upload: nothing to answer, everything to roll back. */
export class ClientAbortedError extends Error {
  override name = 'ClientAbortedError';
}

/** The worker is shutting down and its grace period for in-flight uploads is over. */
export class ShutdownError extends Error {
  override name = 'ShutdownError';
}

/** No database server connection within the worker's bound (PgBouncer would queue for query_wait_timeout). */
export class DatabaseWaitError extends Error {
  override name = 'DatabaseWaitError';
}

interface PgLikeError {
  message: string;
  code?: string;
  where?: string;
  column?: string;
  detail?: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// node-postgres and PgBouncer phrase connection loss in plain messages rather than SQLSTATEs.
const CONNECTION_MESSAGES =
  /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|server conn crashed|no more connections allowed|pgbouncer cannot connect|query_wait_timeout|server_login_retry|server closed the connection|database .* is not available|the database system is (shutting down|starting up|in recovery mode)/i;

/** True when the database (or the pooler in front of it) is unreachable or going away: answer 503. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof DatabaseWaitError) return true;
  const e = err as Error & { code?: string };
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if (e.code && /^(08|57P0[1-4]|53300)/.test(e.code)) return true;
  return CONNECTION_MESSAGES.test(e.message);
}

export interface UploadErrorContext {
  readonly format: UploadFormat;
  /** The columns of the running COPY, when it started. */
  readonly columns?: readonly ColumnInfo[];
  readonly maxBodyBytes: number;
  readonly retryAfterSeconds: number;
}

/**
 * A retryable server-side failure in words for the client. PostgreSQL's own message can name server files
 * ("could not extend file \"base/16384/16390\"…"), which is nothing a client should see; the worker logs it.
 */
function resourceMessage(pg: PgLikeError): string {
  const what =
    pg.code === '53100'
      ? 'the database server is out of disk space'
      : pg.code === '53200'
        ? 'the database server is out of memory'
        : pg.code === '40001' || pg.code === '40P01'
          ? 'the upload conflicted with another transaction'
          : 'the database server is out of resources';
  return `${what} (SQLSTATE ${pg.code}); nothing was stored, retry later with the same Idempotency-Key`;
}

/** Maps the first failure of an upload to the response the contract promises. */
export function uploadErrorResponse(err: unknown, ctx: UploadErrorContext): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof RowError) return httpErrors.badRow(err.row, err.column, err.message);
  if (err instanceof LimitError) return httpErrors.tooLarge(err.limit, err.message);
  if (err instanceof BadRequestError) return httpErrors.badRequest(err.message);
  if (err instanceof ShutdownError)
    return httpErrors.unavailable(
      'the worker is shutting down; retry with the same Idempotency-Key',
      ctx.retryAfterSeconds,
    );
  if (isConnectionError(err))
    return httpErrors.unavailable(`database unavailable: ${(err as Error).message}`, ctx.retryAfterSeconds);
  const pg = err as PgLikeError;
  if (pg && typeof pg.code === 'string' && typeof pg.message === 'string') {
    // Out of disk/memory, serialization failure, deadlock: nothing was stored and a retry may succeed. Checked
    // before the row mapping: COPY's context names the row being written when the disk filled up, but that row
    // is not at fault.
    if (pg.code.startsWith('53') || pg.code === '40001' || pg.code === '40P01')
      return httpErrors.unavailable(resourceMessage(pg), ctx.retryAfterSeconds);
    if (ctx.columns) {
      const rowErr = mapCopyError(pg, ctx.format, [...ctx.columns]);
      if (rowErr) return httpErrors.badRow(rowErr.row, rowErr.column, rowErr.message);
    }
    const detail = pg.detail ? ` (${pg.detail})` : '';
    // Invalid data (22), a violated constraint (23), or a trigger's RAISE EXCEPTION / ASSERT (P0001, P0004),
    // with no row to point at: a deferred constraint or constraint trigger failing at COMMIT.
    if (pg.code.startsWith('22') || pg.code.startsWith('23') || pg.code === 'P0001' || pg.code === 'P0004')
      return httpErrors.badRequest(pg.message + detail);
  }
  return httpErrors.internal('the upload failed inside the worker; nothing was stored (see the worker log)');
}

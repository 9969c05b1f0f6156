// What an upload can end with besides success, as classes a caller can branch on (instanceof) and a CLI can
// map to exit codes. Messages never contain the token.

/** Base class of every error uploadRows/uploadFile throw on purpose. */
export class UploadError extends Error {
  override name = 'UploadError';
}

/**
 * A row was refused, so nothing was stored: found while encoding on this machine (`source: 'client'`) or
 * reported by the server as 400 bad_row (`source: 'server'`). `row` is 1-based over data rows.
 */
export class UploadRowError extends UploadError {
  override name = 'UploadRowError';
  /** uploadFile: the file, and the 1-based line of it where the row starts (when it could be found). */
  file?: string;
  line?: number;

  constructor(
    readonly row: number,
    readonly column: string | undefined,
    message: string,
    readonly source: 'client' | 'server',
  ) {
    super(message);
  }
}

/** The server answered 4xx/5xx other than bad_row and the retryable ones; nothing was stored. */
export class UploadRejectedError extends UploadError {
  override name = 'UploadRejectedError';
  constructor(
    readonly status: number,
    /** The parsed JSON body (`{error, message?, …}`) or the raw text when it was not JSON. */
    readonly body: unknown,
  ) {
    super(rejectedMessage(status, body));
  }

  /** The contract's `error` field (unauthorized, forbidden, unknown_table, too_large, …), if any. */
  get code(): string | undefined {
    const b = this.body as { error?: unknown } | null;
    return b && typeof b === 'object' && typeof b.error === 'string' ? b.error : undefined;
  }
}

/**
 * Every attempt met a network error, a 503 (or 502/504 from a proxy) or a 409 upload_in_progress. The
 * same Idempotency-Key was used throughout, so calling again with `idempotencyKey` set to `key` is safe.
 */
export class UploadUnavailableError extends UploadError {
  override name = 'UploadUnavailableError';
  constructor(
    readonly attempts: number,
    /** The upload's Idempotency-Key (undefined when describing the table failed, before any upload). */
    readonly key: string | undefined,
    /** The last failure: an HTTP status or a network error code/message. */
    readonly last: string,
    options?: { cause?: unknown },
  ) {
    super(
      `ingest endpoint unavailable after ${attempts} attempt${attempts === 1 ? '' : 's'} (last: ${last})` +
        (key ? `; trying again with Idempotency-Key ${key} cannot duplicate rows` : ''),
      options,
    );
  }
}

/** The caller's AbortSignal fired. `name` is 'AbortError', as for fetch(). */
export class UploadAbortedError extends UploadError {
  override name = 'AbortError';
  constructor(options?: { cause?: unknown }) {
    super('upload cancelled; the request was aborted before the server committed it', options);
  }
}

function rejectedMessage(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; message?: unknown; limit?: unknown };
    const parts = [
      typeof b.error === 'string' ? b.error : undefined,
      typeof b.message === 'string' ? b.message : undefined,
    ];
    if (typeof b.limit === 'number') parts.push(`limit ${b.limit} bytes`);
    const text = parts.filter(Boolean).join(': ');
    if (text) return `server refused the upload (HTTP ${status} ${text})`;
  }
  const raw = typeof body === 'string' ? body.slice(0, 200) : '';
  return `server refused the upload (HTTP ${status}${raw ? `: ${raw}` : ''})`;
}

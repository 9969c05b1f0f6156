// The attempt loop shared by uploadRows and uploadFile: POST the body, map the answer to a result or a typed
// error, and on a network error, 503 (502/504 from a proxy), 429 or 409 upload_in_progress try again after a
// backoff with the same Idempotency-Key, so the server stores the rows once whatever happened to the
// previous attempt (rolled back, or committed with the answer lost: then it replays the first result).
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { BadRequestError, LimitError, RowError } from '../formats/errors';
import type { BodySource } from './body-source';
import type { BodyChunk } from './body-spool';
import { UploadAbortedError, UploadRejectedError, UploadRowError, UploadUnavailableError } from './errors';
import { BodySourceError, exchange, TransportError, type HttpReply } from './http-request';
import {
  parseRetryAfter,
  resolveRetryPolicy,
  retryDelayMs,
  sleep,
  type RetryInfo,
  type RetryPolicy,
} from './retry-policy';
import { UploadInputError } from './table-schema';
import { resolveTrust, type ResolvedTrust, type TlsTrustOptions } from './tls-trust';

export interface UploadProgress {
  /** Rows sent in the current attempt (a retry starts again from 0). */
  rows: number;
  /** Body bytes sent in the current attempt. */
  bytes: number;
  /** Rows per second in the current attempt. */
  rate: number;
  /** Uploading a file: bytes of it read so far in this attempt, and its size (for an ETA). */
  fileBytes?: number;
  fileSize?: number;
  /** 1 for the first attempt. */
  attempt: number;
  elapsedMs: number;
  /** True once for the final report, with the server's counts. */
  done: boolean;
}

export interface UploadCallOptions extends TlsTrustOptions {
  /**
   * Idempotency-Key (1–128 of A-Z a-z 0-9 . _ : -). Default: a random UUID made once per call and reused by
   * every retry. Pass your own (and keep it) to resume safely after a crash of your process.
   */
  idempotencyKey?: string;
  /** Cancels the upload: the request is aborted and the server rolls back. */
  signal?: AbortSignal;
  retry?: RetryPolicy;
  onProgress?: (progress: UploadProgress) => void;
  /** Called before waiting to retry (to show "server busy, retrying in 5 s"). */
  onRetry?: (info: RetryInfo) => void;
  /** Minimum time between progress reports (default 250 ms). */
  progressIntervalMs?: number;
  /** An attempt fails when nothing is sent or received for this long (default 300 000 ms). */
  timeoutMs?: number;
  /**
   * node:http agent; default a fresh connection per attempt (for https, one that checks `ca`/`fingerprint`
   * before sending). Cannot be combined with `ca` or `fingerprint`: the agent would make its own TLS choices.
   */
  agent?: http.Agent | false;
}

/** The endpoint's trust settings, checked once per call (a bad pin throws before any connection). */
export function callTrust(url: URL, opts: TlsTrustOptions & { agent?: unknown }): ResolvedTrust | undefined {
  const trust = resolveTrust(url, opts);
  if (trust && opts.agent)
    throw new TypeError(
      'ca/fingerprint cannot be combined with agent: the agent would make its own TLS choices',
    );
  // An agent of the caller's may carry TLS options; the one that turns checking off is refused.
  const agentOptions = (opts.agent as { options?: { rejectUnauthorized?: boolean } } | undefined)?.options;
  if (url.protocol === 'https:' && agentOptions?.rejectUnauthorized === false)
    throw new TypeError(
      'an agent with rejectUnauthorized: false would send the token to any server: pin the certificate with ca or fingerprint instead',
    );
  return trust;
}

export interface UploadResult {
  uploadId: string;
  table: string;
  /** Rows stored (as the server counted them). */
  rows: number;
  /** Body bytes the server received. */
  bytes: number;
  /** Wall time of the whole call on this machine, retries included. */
  durationMs: number;
  /** True when an earlier attempt had committed and the server answered from its record. */
  replayed: boolean;
  attempts: number;
  idempotencyKey: string;
}

export interface UploadPlan {
  endpoint: string;
  token: string;
  table: string;
  contentType: string;
  /** ?columns= (the order of fields in the body). */
  columns?: readonly string[];
  /** Extra request headers (Content-Length of a file sent as it is). */
  headers?: Record<string, string>;
  /** Size of the file being uploaded, for progress. */
  fileSize?: number;
  source: BodySource;
  /**
   * The body is made without waiting on anyone (rows in an array or a generator, a file): a small one may be
   * read ahead and declared (sizeIfSmall). Not for a stream of rows that may trickle in: it would not start.
   */
  readAhead?: boolean;
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;
const USER_AGENT = 'powerhouse-sdk/0.1';

export function checkIdempotencyKey(key: string | undefined): string {
  if (key === undefined) return randomUUID();
  if (!IDEMPOTENCY_KEY.test(key))
    throw new TypeError('idempotencyKey must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  return key;
}

/** endpoint + path, keeping any path prefix of the endpoint (https://host/ingest/ + v1/…). */
export function endpointUrl(endpoint: string, relPath: string): URL {
  let base: URL;
  try {
    base = new URL(endpoint);
  } catch {
    throw new TypeError(`endpoint ${JSON.stringify(endpoint)} is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new TypeError(`endpoint must be http:// or https://, got ${base.protocol}`);
  base.pathname = base.pathname.replace(/\/*$/, '/');
  base.search = '';
  return new URL(relPath, base);
}

export function authHeaders(token: string): Record<string, string> {
  if (!token || /[\r\n]/.test(token)) throw new TypeError('token must be a non-empty single-line string');
  return { Authorization: `Bearer ${token}`, Accept: 'application/json', 'User-Agent': USER_AGENT };
}

type Verdict =
  | { kind: 'done'; reply: HttpReply }
  | { kind: 'retry'; last: string; retryAfterMs?: number }
  | { kind: 'fail'; error: Error };

function bodyError(reply: HttpReply): string {
  const b = reply.body as { error?: unknown; message?: unknown } | null;
  if (b && typeof b === 'object') {
    const msg = typeof b.message === 'string' ? `: ${b.message}` : '';
    return `HTTP ${reply.status} ${String(b.error ?? '')}${msg}`;
  }
  return `HTTP ${reply.status}`;
}

/** What the answer to one attempt means. */
export function judgeReply(reply: HttpReply): Verdict {
  const { status } = reply;
  const body = reply.body as Record<string, unknown> | null;
  if (status === 200 || status === 201) return { kind: 'done', reply };
  const code = body && typeof body === 'object' ? body.error : undefined;
  if (
    status === 503 ||
    status === 502 ||
    status === 504 ||
    status === 429 ||
    (status === 409 && code === 'upload_in_progress')
  )
    return {
      kind: 'retry',
      last: bodyError(reply),
      retryAfterMs: parseRetryAfter(reply.headers['retry-after']),
    };
  if (status === 400 && code === 'bad_row' && typeof body!.row === 'number') {
    const column = typeof body!.column === 'string' ? body!.column : undefined;
    const message = typeof body!.message === 'string' ? body!.message : `row ${body!.row} is invalid`;
    return { kind: 'fail', error: new UploadRowError(body!.row, column, message, 'server') };
  }
  return { kind: 'fail', error: new UploadRejectedError(status, reply.body) };
}

/** A worker lets an upload that declares at most this many bytes skip its COPY queue (its copyTurnFreeBytes). */
export const SMALL_BODY_BYTES = 1024 ** 2;

interface SizedBody {
  chunks: AsyncIterable<BodyChunk>;
  /** Set when the whole body was read ahead: it goes with Content-Length instead of chunked. */
  length?: number;
}

/**
 * Reads the body ahead up to SMALL_BODY_BYTES: a body that ends within it (a sync of a few rows) is sent whole
 * with Content-Length, so it never queues behind bulk uploads; a longer one goes on chunked, those chunks first.
 */
async function sizeIfSmall(it: AsyncIterator<BodyChunk>): Promise<SizedBody> {
  const ahead: BodyChunk[] = [];
  let length = 0;
  for (;;) {
    const next = await it.next();
    if (next.done) return { chunks: iterate(ahead, it), length };
    ahead.push(next.value);
    length += next.value.data.length;
    if (length > SMALL_BODY_BYTES) return { chunks: iterate(ahead, it) };
  }
}

/** `ahead`, then the rest of `it`. */
async function* iterate(
  ahead: readonly BodyChunk[],
  it: AsyncIterator<BodyChunk>,
): AsyncGenerator<BodyChunk> {
  yield* ahead;
  for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
}

/** A failure while producing the body, as the error the caller sees. */
function sourceError(err: unknown): Error {
  if (err instanceof RowError) return new UploadRowError(err.row, err.column, err.message, 'client');
  if (err instanceof LimitError) {
    if (err.row !== undefined) return new UploadRowError(err.row, err.column, err.message, 'client');
    return new UploadInputError(err.message);
  }
  if (err instanceof BadRequestError) return new UploadInputError(err.message);
  return err instanceof Error ? err : new Error(String(err));
}

class ProgressMeter {
  private last = 0;
  private t0 = performance.now();
  rows = 0;
  attempt = 0;
  fileBytes?: number;

  constructor(
    private readonly cb: ((p: UploadProgress) => void) | undefined,
    private readonly intervalMs: number,
    private readonly fileSize?: number,
  ) {}

  startAttempt(attempt: number): void {
    this.attempt = attempt;
    this.rows = 0;
    if (this.fileSize !== undefined) this.fileBytes = 0;
    this.t0 = performance.now();
    this.last = 0;
  }

  report(bytes: number, done = false): void {
    if (!this.cb) return;
    const now = performance.now();
    if (!done && now - this.last < this.intervalMs) return;
    this.last = now;
    const elapsedMs = now - this.t0;
    const rate = elapsedMs > 0 ? (this.rows * 1000) / elapsedMs : 0;
    const file = this.fileSize === undefined ? {} : { fileBytes: this.fileBytes, fileSize: this.fileSize };
    this.cb({
      rows: this.rows,
      bytes,
      rate,
      ...file,
      attempt: this.attempt,
      elapsedMs: Math.round(elapsedMs),
      done,
    });
  }
}

/** Runs the attempts; always disposes the source. */
export async function sendUpload(
  plan: UploadPlan,
  opts: UploadCallOptions,
  t0 = performance.now(),
): Promise<UploadResult> {
  try {
    return await attempts(plan, opts, t0);
  } finally {
    await plan.source.dispose().catch(() => undefined);
  }
}

async function attempts(plan: UploadPlan, opts: UploadCallOptions, t0: number): Promise<UploadResult> {
  const key = checkIdempotencyKey(opts.idempotencyKey);
  const policy = resolveRetryPolicy(opts.retry);
  const url = endpointUrl(plan.endpoint, `v1/tables/${encodeURIComponent(plan.table)}/uploads`);
  if (plan.columns) url.searchParams.set('columns', plan.columns.join(','));
  const trust = callTrust(url, opts);
  const headers = {
    ...authHeaders(plan.token),
    ...plan.headers,
    'Content-Type': plan.contentType,
    'Idempotency-Key': key,
  };
  const meter = new ProgressMeter(opts.onProgress, opts.progressIntervalMs ?? 250, plan.fileSize);
  const signal = opts.signal;
  let last = '';
  let lastCause: unknown;
  for (let attempt = 1; ; attempt++) {
    meter.startAttempt(attempt);
    let sentRows = 0;
    let fileBytes: number | undefined;
    const source = plan.source;
    const opened = source.open()[Symbol.asyncIterator]();
    let sized: SizedBody;
    try {
      sized =
        plan.readAhead && !plan.headers?.['Content-Length']
          ? await sizeIfSmall(opened)
          : { chunks: iterate([], opened) };
    } catch (err) {
      await opened.return?.(undefined);
      throw sourceError(err);
    }
    const chunks = sized.chunks;
    // Progress counts a chunk when it goes to the request, not when it was read ahead; the source is closed
    // however the attempt ends (its file, its spool), also when the request never took the body.
    const body = (async function* () {
      try {
        for await (const chunk of chunks) {
          sentRows = chunk.rows;
          fileBytes = chunk.inputBytes;
          yield chunk.data;
        }
      } finally {
        await opened.return?.(undefined);
      }
    })();
    const x = exchange(url, {
      method: 'POST',
      headers: sized.length === undefined ? headers : { ...headers, 'Content-Length': String(sized.length) },
      body,
      signal,
      timeoutMs: opts.timeoutMs ?? 300_000,
      agent: opts.agent,
      trust,
      onChunkSent: (bytes) => {
        meter.rows = sentRows;
        if (fileBytes !== undefined) meter.fileBytes = fileBytes;
        meter.report(bytes);
      },
    });
    let verdict: Verdict;
    try {
      verdict = judgeReply(await x.reply);
    } catch (err) {
      if (err instanceof UploadAbortedError) throw err;
      if (err instanceof BodySourceError) throw sourceError(err.error);
      if (!(err instanceof TransportError)) throw err;
      verdict = { kind: 'retry', last: `${err.code}: ${err.message}` };
      lastCause = err;
    }
    if (verdict.kind === 'done') {
      const b = verdict.reply.body as Record<string, unknown>;
      // A 2xx that is not the worker's answer (e.g. a captive portal or a misrouted proxy).
      if (!b || typeof b !== 'object' || typeof b.uploadId !== 'string' || typeof b.rows !== 'number')
        throw new UploadRejectedError(verdict.reply.status, verdict.reply.body);
      const result: UploadResult = {
        uploadId: String(b.uploadId),
        table: typeof b.table === 'string' ? b.table : plan.table,
        rows: Number(b.rows),
        bytes: Number(b.bytes),
        durationMs: Math.round(performance.now() - t0),
        replayed: b.replayed === true,
        attempts: attempt,
        idempotencyKey: key,
      };
      meter.rows = result.rows;
      if (plan.fileSize !== undefined) meter.fileBytes = plan.fileSize;
      meter.report(result.bytes, true);
      return result;
    }
    if (verdict.kind === 'fail') throw verdict.error;
    last = verdict.last;
    // The next attempt must not start while this one's writer still holds the rows' iterator.
    await x.bodyReleased;
    // A body the request never started still holds its source: closed without waiting (it may be mid-read).
    opened.return?.(undefined).catch(() => undefined);
    if (attempt >= policy.maxAttempts) break;
    if (!source.canRetry()) {
      last += ' (the rows could be read only once and spooling was turned off, so no retry)';
      break;
    }
    const delayMs = retryDelayMs(policy, attempt, verdict.retryAfterMs);
    opts.onRetry?.({ attempt, maxAttempts: policy.maxAttempts, delayMs, reason: last });
    try {
      await sleep(delayMs, signal);
    } catch (reason) {
      throw new UploadAbortedError({ cause: reason });
    }
  }
  throw new UploadUnavailableError(meter.attempt, key, last, { cause: lastCause });
}

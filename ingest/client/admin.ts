// The worker's token and admin routes from TypeScript (docs/INGEST-API.md, "Tokens and administration"):
// `powerhouse token`, `powerhouse uploads` and `powerhouse doctor` use these, an ops tool can too. One attempt
// each (they are quick and an operator is watching), with the same certificate trust as uploads.
import { UploadError } from './errors';
import { exchange, TransportError, type HttpReply } from './http-request';
import { authHeaders, callTrust, endpointUrl } from './send-upload';
import type { TokenInfo } from '../token-store';
import type { TlsTrustOptions } from './tls-trust';

export interface AdminCallOptions extends TlsTrustOptions {
  signal?: AbortSignal;
  /** Default 30 000 ms without a byte sent or received. */
  timeoutMs?: number;
}

/** The endpoint answered with an error (`code` is the contract's `error` field). */
export class EndpointError extends UploadError {
  override name = 'EndpointError';
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    const b = (body && typeof body === 'object' ? body : {}) as { error?: unknown; message?: unknown };
    const detail = [b.error, b.message].filter((v) => typeof v === 'string').join(': ');
    super(`${what}: HTTP ${status}${detail ? ` ${detail}` : ''}`);
  }

  get code(): string | undefined {
    const b = this.body as { error?: unknown } | null;
    return b && typeof b === 'object' && typeof b.error === 'string' ? b.error : undefined;
  }
}

/** The endpoint could not be reached (refused, reset, timed out). */
export class EndpointUnreachableError extends UploadError {
  override name = 'EndpointUnreachableError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

async function call(
  endpoint: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  opts: AdminCallOptions,
  body?: unknown,
): Promise<HttpReply> {
  const url = endpointUrl(endpoint, path);
  const trust = callTrust(url, opts);
  const headers = authHeaders(token);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  try {
    return await exchange(url, {
      method,
      headers,
      body:
        payload &&
        (async function* () {
          yield payload;
        })(),
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? 30_000,
      trust,
    }).reply;
  } catch (err) {
    if (err instanceof TransportError)
      throw new EndpointUnreachableError(err.code, `${url.host}: ${err.code}: ${err.message}`, {
        cause: err,
      });
    throw err;
  }
}

async function json<T>(reply: Promise<HttpReply>, ok: number, what: string): Promise<T> {
  const r = await reply;
  if (r.status !== ok || typeof r.body !== 'object' || r.body === null)
    throw new EndpointError(r.status, r.body, what);
  return r.body as T;
}

export interface Whoami {
  /** The token's name (as upload records and `powerhouse uploads` show it). */
  token: string;
  /** Client names of the tables this token may upload to. */
  tables: string[];
}

/** GET /v1/whoami: which token this is and what it may write (401 → EndpointError code 'unauthorized'). */
export function whoami(endpoint: string, token: string, opts: AdminCallOptions = {}): Promise<Whoami> {
  return json(call(endpoint, token, 'GET', 'v1/whoami', opts), 200, 'GET /v1/whoami');
}

/** A token as the admin routes list it (the worker's own type: one definition for both sides). */
export type { TokenInfo } from '../token-store';

export async function listTokens(
  endpoint: string,
  adminToken: string,
  opts: AdminCallOptions = {},
): Promise<TokenInfo[]> {
  const r = await json<{ tokens: TokenInfo[] }>(
    call(endpoint, adminToken, 'GET', 'v1/admin/tokens', opts),
    200,
    'listing tokens',
  );
  return r.tokens;
}

/** Makes a token; `token` in the answer is shown this once (the worker keeps its SHA-256 only). */
export function addToken(
  endpoint: string,
  adminToken: string,
  name: string,
  tables: '*' | readonly string[] = '*',
  opts: AdminCallOptions = {},
): Promise<TokenInfo & { token: string }> {
  return json(
    call(endpoint, adminToken, 'POST', 'v1/admin/tokens', opts, { name, tables }),
    201,
    `adding token "${name}"`,
  );
}

export function revokeToken(
  endpoint: string,
  adminToken: string,
  name: string,
  opts: AdminCallOptions = {},
): Promise<TokenInfo> {
  return json(
    call(endpoint, adminToken, 'POST', `v1/admin/tokens/${encodeURIComponent(name)}/revoke`, opts),
    200,
    `revoking token "${name}"`,
  );
}

export interface UploadRecord {
  uploadId: string;
  token: string;
  table: string;
  status: 'committed' | 'failed';
  rows: number;
  bytes: number;
  idempotencyKey: string | null;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** The error answer of a failed upload ({error, message, row, …}). */
  error?: Record<string, unknown>;
}

export interface UploadFilter {
  token?: string;
  table?: string;
  /** `90s`, `30m`, `1h`, `7d`, or an ISO time with zone. */
  since?: string;
  status?: 'committed' | 'failed';
  /** 1–1000, default 100. */
  limit?: number;
}

/** GET /v1/admin/uploads: upload records, newest first. */
export async function listUploads(
  endpoint: string,
  adminToken: string,
  filter: UploadFilter = {},
  opts: AdminCallOptions = {},
): Promise<UploadRecord[]> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
  const path = `v1/admin/uploads${q.size ? `?${q}` : ''}`;
  const r = await json<{ uploads: UploadRecord[] }>(
    call(endpoint, adminToken, 'GET', path, opts),
    200,
    'listing uploads',
  );
  return r.uploads;
}

// The admin routes (admin token only): PgBouncer's pools and stats, the tokens (`powerhouse token`) and the
// upload records by token (`powerhouse uploads`). They answer on the same port as uploads, so a deployed
// stack is administered through its pinned HTTPS endpoint like it is used, with no SSH.
import type { IncomingMessage } from 'node:http';
import { parseSince } from '../../config-templates/human';
import { httpErrors, isConnectionError } from '../errors';
import { pgbouncerSnapshot } from '../pgbouncer-admin';
import { TokenChangeError } from '../token-store';
import type { Exchange, RouteContext } from './context';
import { bounded, dbQuery } from './db-call';
import { sendJson } from './respond';

const MAX_ADMIN_BODY = 64 * 1024;
const UPLOAD_LIST_DEFAULT = 100;
const UPLOAD_LIST_MAX = 1000;

/** 401 without the admin token (403 for an upload token). */
export function requireAdmin(ctx: RouteContext, x: Exchange): void {
  const { auth } = ctx.state;
  const authorization = x.req.headers.authorization;
  if (!auth.isAdmin(authorization)) {
    throw auth.authenticate(authorization) ? httpErrors.forbidden() : httpErrors.unauthorized();
  }
}

export async function handleAdminPgBouncer(ctx: RouteContext, x: Exchange): Promise<void> {
  requireAdmin(ctx, x);
  const retryAfter = ctx.limits.retryAfterSeconds;
  if (!ctx.config.pgbouncerAdminUrl)
    throw httpErrors.unavailable('pgbouncerAdminUrl is not configured', retryAfter);
  try {
    sendJson(ctx, x.res, 200, await pgbouncerSnapshot(ctx.config.pgbouncerAdminUrl));
  } catch (err) {
    ctx.log.warn({ err }, 'PgBouncer admin console query failed');
    throw httpErrors.unavailable(`PgBouncer admin console: ${(err as Error).message}`, retryAfter);
  }
}

/** A small JSON object body (admin requests), or a 400 saying what is wrong with it. */
async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type))
    throw httpErrors.badRequest('send the request body as Content-Type: application/json');
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY) throw httpErrors.tooLarge(MAX_ADMIN_BODY);
    parts.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw httpErrors.badRequest('the request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw httpErrors.badRequest('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function changeError(err: unknown): unknown {
  if (!(err instanceof TokenChangeError)) return err;
  if (err.kind === 'token_exists') return httpErrors.tokenExists(err.message);
  if (err.kind === 'unknown_token') return httpErrors.unknownToken(err.message);
  return httpErrors.badRequest(err.message);
}

/**
 * A token change runs to its end, with no deadline of its own: an answer must say what happened, and a
 * deadline that fired while the INSERT still waited in PgBouncer could answer 503 for a token that then
 * exists (its name taken, its value never shown). The ops pool's connect timeout still bounds a dead database.
 */
async function tokenChange<T>(ctx: RouteContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isConnectionError(err))
      throw httpErrors.unavailable(
        `database unavailable: ${(err as Error).message}`,
        ctx.limits.retryAfterSeconds,
      );
    throw changeError(err);
  }
}

/** GET /v1/admin/tokens */
export async function handleListTokens(ctx: RouteContext, x: Exchange): Promise<void> {
  requireAdmin(ctx, x);
  let tokens;
  try {
    tokens = await bounded(ctx, ctx.tokens.list());
  } catch (err) {
    throw changeError(err);
  }
  sendJson(ctx, x.res, 200, { tokens });
}

/** POST /v1/admin/tokens {"name": "anna", "tables": ["tm_entries"]}: 201 with the token, shown this once. */
export async function handleAddToken(ctx: RouteContext, x: Exchange): Promise<void> {
  requireAdmin(ctx, x);
  const body = await readJsonObject(x.req);
  for (const key of Object.keys(body))
    if (key !== 'name' && key !== 'tables')
      throw httpErrors.badRequest(`unknown field "${key}" (allowed: name, tables)`);
  if (typeof body.name !== 'string') throw httpErrors.badRequest('name: a string is required');
  const known = [...ctx.state.catalog.keys()];
  let tables: '*' | string[] = '*';
  if (body.tables !== undefined && body.tables !== '*') {
    if (
      !Array.isArray(body.tables) ||
      body.tables.length === 0 ||
      body.tables.some((t) => typeof t !== 'string')
    )
      throw httpErrors.badRequest('tables: "*" or a non-empty array of table names');
    const unknown = (body.tables as string[]).filter((t) => !ctx.state.catalog.has(t));
    if (unknown.length)
      throw httpErrors.badRequest(
        `tables: ${unknown.map((t) => JSON.stringify(t)).join(', ')} not allowlisted (tables: ${known.join(', ')})`,
      );
    tables = [...new Set(body.tables as string[])];
  }
  const name = body.name;
  const { token, info } = await tokenChange(ctx, () => ctx.tokens.add(name, tables));
  ctx.log.info({ token: info.name, tables: info.tables }, 'token added');
  sendJson(ctx, x.res, 201, { ...info, token });
}

/** POST /v1/admin/tokens/{name}/revoke */
export async function handleRevokeToken(ctx: RouteContext, x: Exchange, encodedName: string): Promise<void> {
  requireAdmin(ctx, x);
  let name: string;
  try {
    name = decodeURIComponent(encodedName);
  } catch {
    throw httpErrors.unknownToken('no token by that name');
  }
  const info = await tokenChange(ctx, () => ctx.tokens.revoke(name));
  ctx.log.info({ token: info.name }, 'token revoked');
  sendJson(ctx, x.res, 200, info);
}

interface UploadRecordRow {
  upload_id: string;
  token_id: string;
  table_name: string;
  status: 'committed' | 'failed';
  rows: string;
  bytes: string;
  idempotency_key: string | null;
  error: Record<string, unknown> | null;
  started_at: Date;
  finished_at: Date;
  duration_ms: number;
}

const UPLOAD_PARAMS = new Set(['token', 'table', 'since', 'status', 'limit']);

/** GET /v1/admin/uploads?token=&table=&since=1h&status=&limit=: upload records, newest first. */
export async function handleListUploads(ctx: RouteContext, x: Exchange): Promise<void> {
  requireAdmin(ctx, x);
  const q = x.url.searchParams;
  for (const key of q.keys())
    if (!UPLOAD_PARAMS.has(key))
      throw httpErrors.badRequest(
        `unknown query parameter "${key}" (allowed: ${[...UPLOAD_PARAMS].join(', ')})`,
      );
  let since: Date | null = null;
  const sinceText = q.get('since');
  if (sinceText !== null) {
    since = parseSince(sinceText);
    if (!since)
      throw httpErrors.badRequest(
        'since: a duration (90s, 30m, 1h, 7d) or an ISO time with zone (…Z, …+01:00)',
      );
  }
  const status = q.get('status');
  if (status !== null && status !== 'committed' && status !== 'failed')
    throw httpErrors.badRequest('status: committed or failed');
  const limitText = q.get('limit');
  const limit = limitText === null ? UPLOAD_LIST_DEFAULT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > UPLOAD_LIST_MAX)
    throw httpErrors.badRequest(`limit: a whole number from 1 to ${UPLOAD_LIST_MAX}`);
  const rows = await dbQuery<UploadRecordRow>(
    ctx,
    `SELECT upload_id, token_id, table_name, status, rows, bytes, idempotency_key, error, started_at, finished_at, duration_ms
       FROM powerhouse.uploads
      WHERE ($1::text IS NULL OR token_id = $1) AND ($2::text IS NULL OR table_name = $2)
        AND ($3::timestamptz IS NULL OR finished_at >= $3) AND ($4::text IS NULL OR status = $4)
      ORDER BY finished_at DESC LIMIT $5`,
    [q.get('token'), q.get('table'), since, status, limit],
  );
  sendJson(ctx, x.res, 200, {
    uploads: rows.map((r) => ({
      uploadId: r.upload_id,
      token: r.token_id,
      table: r.table_name,
      status: r.status,
      rows: Number(r.rows),
      bytes: Number(r.bytes),
      idempotencyKey: r.idempotency_key,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at.toISOString(),
      durationMs: r.duration_ms,
      // The error body the upload was answered with ({error, message, row, …}).
      ...(r.error ? { error: r.error } : {}),
    })),
    limit,
  });
}

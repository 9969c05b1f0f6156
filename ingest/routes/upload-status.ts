// GET /v1/uploads/{uploadId} and GET /v1/uploads?idempotencyKey=K[&table=T]: an upload's progress or result,
// from this worker's memory first, then from powerhouse.uploads (bounded like an upload's wait).
import { httpErrors } from '../errors';
import type { UploadStatus } from '../upload-tracker';
import { IDEMPOTENCY_KEY, authenticate, type Exchange, type RouteContext } from './context';
import { dbQuery } from './db-call';
import { sendJson } from './respond';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

export async function handleUploadStatus(ctx: RouteContext, x: Exchange, id: string): Promise<void> {
  const token = authenticate(ctx, x.req);
  if (!UUID.test(id)) throw httpErrors.unknownUpload();
  let status = ctx.tracker.get(id, token.id);
  if (!status) {
    const rows = await dbQuery<DbUploadRow>(
      ctx,
      `SELECT upload_id, table_name, status, rows, bytes, error FROM powerhouse.uploads
        WHERE upload_id = $1 AND token_id = $2`,
      [id, token.id],
    );
    if (rows.length) status = dbStatus(rows[0]);
  }
  if (!status) throw httpErrors.unknownUpload();
  sendJson(ctx, x.res, 200, status);
}

export async function handleUploadByKey(ctx: RouteContext, x: Exchange): Promise<void> {
  const token = authenticate(ctx, x.req);
  const key = x.url.searchParams.get('idempotencyKey');
  const table = x.url.searchParams.get('table') ?? undefined;
  if (key === null || !IDEMPOTENCY_KEY.test(key))
    throw httpErrors.badRequest('idempotencyKey must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  // A running upload first; then the durable record (a committed one wins over failed attempts).
  let status = ctx.tracker.liveByKey(token.id, key, table);
  if (!status) {
    const rows = await dbQuery<DbUploadRow>(
      ctx,
      `SELECT upload_id, table_name, status, rows, bytes, error FROM powerhouse.uploads
        WHERE token_id = $1 AND idempotency_key = $2 AND ($3::text IS NULL OR table_name = $3)
        ORDER BY status = 'committed' DESC, finished_at DESC LIMIT 1`,
      [token.id, key, table ?? null],
    );
    if (rows.length) status = dbStatus(rows[0]);
  }
  status ??= ctx.tracker.finishedByKey(token.id, key, table);
  if (!status) throw httpErrors.unknownUpload();
  sendJson(ctx, x.res, 200, status);
}

// POST /v1/tables/{table}/uploads: the request checks in the contract's order, a concurrency slot, then the
// upload itself (../upload.ts). Every answer, early refusals included, is counted once here: uploads_total by
// status, the duration histogram by outcome, errors_total by kind.
import { HttpError, httpErrors, type ErrorKind } from '../errors';
import { formatFromContentType } from '../formats';
import { runUpload, type UploadOutcome } from '../upload';
import { IDEMPOTENCY_KEY, tableFor, type Exchange, type RouteContext } from './context';
import { drainBody, sendJson } from './respond';

const UPLOAD_PARAMS = new Set(['columns']);

/** The `table` label: the allowlisted client name the path names, or '' (not allowlisted, undecodable). */
function tableLabel(ctx: RouteContext, encodedName: string): string {
  try {
    const name = decodeURIComponent(encodedName);
    return ctx.state.catalog.has(name) ? name : '';
  } catch {
    return '';
  }
}

export async function handleUpload(ctx: RouteContext, x: Exchange, encodedName: string): Promise<void> {
  const t0 = performance.now();
  const table = tableLabel(ctx, encodedName);
  const count = (status: number | 'aborted', outcome: 'committed' | 'replayed' | ErrorKind) => {
    ctx.metrics.uploads.inc({ table, status: String(status) });
    ctx.metrics.duration.observe({ table, outcome }, (performance.now() - t0) / 1000);
  };
  let outcome: UploadOutcome | null;
  try {
    outcome = await admitAndRun(ctx, x, encodedName);
  } catch (err) {
    // Refused before the upload ran: the router sends it (and counts its kind in errors_total).
    if (err instanceof HttpError) count(err.status, err.kind);
    else count(500, 'internal');
    throw err;
  }
  if (!outcome) {
    // The client is gone: nothing to answer.
    count('aborted', 'client_aborted');
    ctx.metrics.errors.inc({ kind: 'client_aborted' });
    return;
  }
  count(outcome.status, outcome.kind);
  if (outcome.status >= 400) ctx.metrics.errors.inc({ kind: outcome.kind });
  x.info.uploadId = outcome.uploadId;
  sendJson(ctx, x.res, outcome.status, outcome.body, outcome.headers);
  drainBody(ctx.limits, x.req);
}

/** The checks before any database work (docs/INGEST-API.md, "Processing order"), then the upload. */
async function admitAndRun(
  ctx: RouteContext,
  x: Exchange,
  encodedName: string,
): Promise<UploadOutcome | null> {
  const { limits } = ctx;
  const { req, res, url } = x;
  if (ctx.state.closing)
    throw httpErrors.unavailable('the worker is shutting down', limits.retryAfterSeconds);
  const { token, table } = tableFor(ctx, req, encodedName);
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

  // Un-archived WAL at the disk margin: refuse before writing more (the monitor's last reading, no query).
  const backup = ctx.backup?.refusing();
  if (backup)
    throw httpErrors.walArchiveBacklog(
      backup.message,
      backup.archiveLagBytes ?? 0,
      backup.walMarginBytes,
      limits.retryAfterSeconds,
    );

  const slot = ctx.slots.tryAcquire(token.id);
  if ('refused' in slot) {
    throw httpErrors.unavailable(
      slot.refused === 'global'
        ? `the worker is at its limit of ${limits.maxConcurrentUploads} concurrent uploads`
        : `this token is at its limit of ${limits.maxConcurrentUploadsPerToken} concurrent uploads`,
      limits.retryAfterSeconds,
    );
  }
  try {
    return await runUpload(
      {
        pool: ctx.pool,
        limits,
        tracker: ctx.tracker,
        metrics: ctx.metrics,
        log: ctx.log,
        serverWaitMs: ctx.serverWaitMs,
        parallel: ctx.state.parallel,
        gate: ctx.gate,
      },
      {
        req,
        res,
        tokenId: token.id,
        table,
        format,
        requestedColumns,
        idempotencyKey,
        // The dashboard's progress total (a chunked body has none).
        declaredBytes: declared === undefined ? undefined : Number(declared),
      },
    );
  } finally {
    slot.release();
  }
}

// Scenarios 2–4: uploads through the worker and PgBouncer, against `psql \copy` of the same rows into the
// same (emptied) table in the same run.
import { beforeEndpointRun, beforePsqlRun, expectRows, resetTable, type BenchContext } from './bench-context';
import { ROLES } from '../config-templates/names';
import { uploadFile, type UploadResult } from './http-upload';
import { psqlCopy } from './psql-copy';
import type { ConcurrentResult, ConcurrentSide, MethodResult, SingleUploadResult } from './report-types';
import type { RowFileSet, RowFile } from './row-files';
import type { RowFormat } from './row-encoders';
import { ScenarioSampler } from './samplers';
import { throughput } from './scenario-methods';
import { summarize } from './stats';
import { TM_COLUMNS } from './tm-rows';

export const TABLE = 'tm_entries';
const QUALIFIED = 'public.tm_entries';

const FORMAT_LABEL: Record<RowFormat, string> = {
  pgcopy: 'endpoint, pgcopy (binary COPY passed through)',
  tsv: 'endpoint, TSV (COPY text)',
  csv: 'endpoint, CSV (encoded to binary COPY)',
  ndjson: 'endpoint, NDJSON (encoded to binary COPY)',
};

function sampler(ctx: BenchContext, withWorker = true, intervalMs = 200): ScenarioSampler {
  const { stack } = ctx;
  return new ScenarioSampler({
    superuserUrl: stack.superuserUrl,
    copyRole: withWorker ? ROLES.ingest : undefined,
    intervalMs,
    bouncerAdminUrl: stack.config.pgbouncerAdminUrl,
    bouncerPool: stack.bouncer ? stack.settings.pgbouncer.ingest.name : undefined,
    workerPid: withWorker ? stack.workerPid : null,
  });
}

function need(files: RowFileSet, format: RowFormat): RowFile {
  const f = files[format];
  if (!f) throw new Error(`no ${format} file was generated`);
  return f;
}

export interface SingleInput {
  files: RowFileSet;
  formats: readonly RowFormat[];
  runId: string;
}

/**
 * One upload per format of the same rows, with `psql \copy` of the TSV before and after (the baseline is
 * their mean, so a machine that slows down during the scenario does not favour either side).
 */
export async function runSingle(
  ctx: BenchContext,
  input: SingleInput,
): Promise<{ baseline: MethodResult; baselineRuns: number[]; uploads: SingleUploadResult[] }> {
  const tsv = need(input.files, 'tsv');
  const bytesPerRow = tsv.bytes / tsv.rows;
  const baselineRuns: number[] = [];
  const runPsql = async () => {
    await beforePsqlRun(ctx);
    await resetTable(ctx, QUALIFIED);
    ctx.log(`single upload: psql \\copy ${tsv.rows} rows`);
    const r = await psqlCopy(ctx.psqlConn, QUALIFIED, TM_COLUMNS, tsv.path, 'text');
    await expectRows(ctx, QUALIFIED, tsv.rows, 'psql \\copy');
    baselineRuns.push(r.ms);
  };
  await runPsql();
  const uploads: SingleUploadResult[] = [];
  for (const format of input.formats) {
    const file = need(input.files, format);
    await beforeEndpointRun(ctx);
    await resetTable(ctx, QUALIFIED);
    ctx.log(`single upload: ${format}, ${file.rows} rows, ${(file.bytes / 1e6).toFixed(0)} MB`);
    const s = sampler(ctx);
    await s.start();
    const r = await uploadFile({
      baseUrl: ctx.stack.ingestUrl,
      token: ctx.stack.token,
      table: TABLE,
      format,
      file: file.path,
      columns: TM_COLUMNS,
      idempotencyKey: `bench-${input.runId}-single-${format}`,
    });
    const sampled = await s.stop();
    if (!r.ok || r.rows !== file.rows)
      throw new Error(`single ${format} upload failed: ${r.error ?? `${r.rows} rows`}`);
    await expectRows(ctx, QUALIFIED, file.rows, `${format} upload`);
    uploads.push({
      id: `endpoint-${format}`,
      label: FORMAT_LABEL[format],
      ...throughput(file.rows, r.ms, bytesPerRow),
      bodyBytes: file.bytes,
      ratioToPsql: null,
      sampled,
    });
  }
  await runPsql();
  const meanMs = baselineRuns.reduce((a, b) => a + b, 0) / baselineRuns.length;
  const baseline: MethodResult = {
    id: 'psql-copy',
    label: 'psql \\copy (text), mean of the run before and after',
    ...throughput(tsv.rows, meanMs, bytesPerRow),
    ratioToPsql: 1,
  };
  for (const u of uploads) u.ratioToPsql = Math.round((u.rowsPerSec / baseline.rowsPerSec) * 100) / 100;
  return { baseline, baselineRuns: baselineRuns.map(Math.round), uploads };
}

export interface ConcurrentInput {
  users: number;
  /** One file set per user (user i uploads userFiles[i]). */
  userFiles: readonly RowFileSet[];
  format: RowFormat;
  runId: string;
}

function side(
  results: { ms: number; ok: boolean; rows: number; error?: string; refused?: boolean }[],
  wallMs: number,
  sampled: ConcurrentSide['sampled'],
  firstAccepted: number[] | null,
): ConcurrentSide {
  const rows = results.filter((r) => r.ok).reduce((a, r) => a + r.rows, 0);
  const errors = results.filter((r) => !r.ok);
  return {
    aggregateRowsPerSec: Math.round(rows / (wallMs / 1000)),
    wallMs: Math.round(wallMs),
    perUploadMs: summarize(results.map((r) => r.ms)),
    firstAcceptedMs: firstAccepted ? summarize(firstAccepted) : null,
    errors: errors.length,
    refused: errors.filter((r) => r.refused).length,
    errorSamples: [...new Set(errors.map((r) => r.error ?? 'unknown'))].slice(0, 5),
    sampled,
  };
}

const isRefusal = (r: UploadResult) =>
  r.status === 503 || (r.connectionError === true && /ECONNREFUSED|ECONNRESET/.test(r.error ?? ''));

/** N uploads started at the same moment, then N parallel `psql \copy` of the same rows. */
export async function runConcurrent(ctx: BenchContext, input: ConcurrentInput): Promise<ConcurrentResult> {
  const { users, format } = input;
  const files = input.userFiles.slice(0, users).map((f) => need(f, format));
  const tsvFiles = input.userFiles.slice(0, users).map((f) => need(f, 'tsv'));
  if (files.length < users) throw new Error(`${users} users but only ${files.length} user files`);
  const tokens = ctx.stack.tokens;
  if (tokens.length < users) throw new Error(`${users} users but the stack has ${tokens.length} user tokens`);

  await beforeEndpointRun(ctx);
  await resetTable(ctx, QUALIFIED);
  ctx.log(`concurrent: ${users} × ${files[0].rows} rows via the endpoint (${format})`);
  let s = sampler(ctx, true, 100);
  await s.start();
  let t0 = performance.now();
  const uploads = await Promise.all(
    files.map((file, i) =>
      uploadFile({
        baseUrl: ctx.stack.ingestUrl,
        token: tokens[i],
        table: TABLE,
        format,
        file: file.path,
        columns: TM_COLUMNS,
        idempotencyKey: `bench-${input.runId}-n${users}-u${i}`,
      }),
    ),
  );
  let wall = performance.now() - t0;
  const endpointSampled = await s.stop();
  // All uploads start within a few ms of each other: the k-th COPY transaction to begin is the k-th upload
  // to get past the queue, whichever upload it was.
  const startedAt = Math.min(...uploads.map((u) => u.startedAtEpochMs));
  const firstAccepted = s.copyTransactionStarts().map((ms) => Math.max(0, ms - startedAt));
  for (const [i, u] of uploads.entries()) {
    if (u.ok && u.rows !== files[i].rows) {
      u.ok = false;
      u.error = `committed ${u.rows} rows, expected ${files[i].rows}`;
    }
  }
  const stored = uploads.filter((u) => u.ok).reduce((a, u) => a + u.rows, 0);
  await expectRows(ctx, QUALIFIED, stored, `${users} concurrent uploads`);
  const endpoint = side(
    uploads.map((u) => ({ ...u, refused: isRefusal(u) })),
    wall,
    endpointSampled,
    firstAccepted,
  );

  await beforePsqlRun(ctx);
  await resetTable(ctx, QUALIFIED);
  ctx.log(`concurrent: ${users} parallel psql \\copy`);
  s = sampler(ctx, false);
  await s.start();
  t0 = performance.now();
  const psqlRuns = await Promise.all(
    tsvFiles.map((f) =>
      psqlCopy(ctx.psqlConn, QUALIFIED, TM_COLUMNS, f.path, 'text').then(
        (r) => ({
          ms: r.ms,
          ok: r.rows === f.rows,
          rows: r.rows,
          error: r.rows === f.rows ? undefined : `${r.rows} rows`,
        }),
        (err: Error) => ({ ms: performance.now() - t0, ok: false, rows: 0, error: err.message }),
      ),
    ),
  );
  wall = performance.now() - t0;
  const psqlSampled = await s.stop();
  await expectRows(
    ctx,
    QUALIFIED,
    psqlRuns.reduce((a, r) => a + (r.ok ? r.rows : 0), 0),
    `${users} parallel psql`,
  );
  const psql = side(psqlRuns, wall, psqlSampled, null);
  if (psql.errors > 0) throw new Error(`psql baseline failed: ${psql.errorSamples.join('; ')}`);
  return {
    users,
    rowsPerUpload: files[0].rows,
    format,
    endpoint,
    psql,
    ratio: Math.round((endpoint.aggregateRowsPerSec / psql.aggregateRowsPerSec) * 100) / 100,
  };
}

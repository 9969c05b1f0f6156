// Scenarios 2–4: uploads through the worker and PgBouncer, against `psql \copy` of the same rows into the
// same (emptied) table in the same run.
import { beforeEndpointRun, beforePsqlRun, expectRows, resetTable, type BenchContext } from './bench-context';
import { ROLES } from '../config-templates/names';
import { uploadRows } from '../ingest/client';
import { uploadFile, type UploadResult } from './http-upload';
import { psqlCopy } from './psql-copy';
import type { ConcurrentResult, ConcurrentSide, MethodResult, SingleUploadResult } from './report-types';
import type { RowFileSet, RowFile } from './row-files';
import type { RowFormat } from './row-encoders';
import { mergeSamples, ScenarioSampler, type SampleSummary } from './samplers';
import { throughput } from './scenario-methods';
import { summarize } from './stats';
import { TM_COLUMNS } from '../ingest/client/tm-rows';

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
  /** The same rows again, for an upload through the client SDK (uploadRows encodes them as the desktop app would). */
  sdkRows?: () => Iterable<readonly unknown[]>;
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
  if (input.sdkRows) {
    await beforeEndpointRun(ctx);
    await resetTable(ctx, QUALIFIED);
    ctx.log(`single upload: client SDK uploadRows, ${tsv.rows} rows encoded on the fly`);
    const s = sampler(ctx);
    await s.start();
    const t0 = performance.now();
    // replay 'none': no spool file, the rows are generated once (a one-shot generator, as an app's cursor).
    const r = await uploadRows(ctx.stack.ingestUrl, ctx.stack.token, TABLE, input.sdkRows(), {
      columns: [...TM_COLUMNS],
      idempotencyKey: `bench-${input.runId}-single-sdk`,
      replay: 'none',
    });
    const ms = performance.now() - t0;
    const sampled = await s.stop();
    if (r.rows !== tsv.rows) throw new Error(`SDK upload stored ${r.rows} rows, expected ${tsv.rows}`);
    await expectRows(ctx, QUALIFIED, tsv.rows, 'SDK upload');
    uploads.push({
      id: 'endpoint-sdk',
      label: 'client SDK uploadRows (rows encoded to pgcopy in the client, streamed)',
      ...throughput(tsv.rows, ms, bytesPerRow),
      bodyBytes: r.bytes,
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
  /** Measurements per side, in ABBA order (endpoint, psql, psql, endpoint, …) so drift favours neither. */
  repeat: number;
}

interface Outcome {
  ms: number;
  ok: boolean;
  rows: number;
  error?: string;
  refused?: boolean;
}

interface Trial {
  outcomes: Outcome[];
  wallMs: number;
  sampled: SampleSummary;
  /** Endpoint: ms from the requests' start to each COPY transaction's start. */
  firstAccepted: number[] | null;
}

function combine(trials: Trial[]): ConcurrentSide {
  const outcomes = trials.flatMap((t) => t.outcomes);
  const rows = outcomes.filter((r) => r.ok).reduce((a, r) => a + r.rows, 0);
  const wallMs = trials.reduce((a, t) => a + t.wallMs, 0);
  const errors = outcomes.filter((r) => !r.ok);
  const accepted = trials[0].firstAccepted ? trials.flatMap((t) => t.firstAccepted ?? []) : null;
  return {
    aggregateRowsPerSec: Math.round(rows / (wallMs / 1000)),
    runRowsPerSec: trials.map((t) =>
      Math.round(t.outcomes.filter((r) => r.ok).reduce((a, r) => a + r.rows, 0) / (t.wallMs / 1000)),
    ),
    wallMs: Math.round(wallMs / trials.length),
    perUploadMs: summarize(outcomes.map((r) => r.ms)),
    firstAcceptedMs: accepted ? summarize(accepted) : null,
    errors: errors.length,
    refused: errors.filter((r) => r.refused).length,
    errorSamples: [...new Set(errors.map((r) => r.error ?? 'unknown'))].slice(0, 5),
    sampled: mergeSamples(trials.map((t) => t.sampled)),
  };
}

const isRefusal = (r: UploadResult) =>
  r.status === 503 || (r.connectionError === true && /ECONNREFUSED|ECONNRESET/.test(r.error ?? ''));

/** N uploads through the worker started at the same moment. */
async function endpointTrial(
  ctx: BenchContext,
  input: ConcurrentInput,
  files: RowFile[],
  k: number,
): Promise<Trial> {
  const { users, format } = input;
  await beforeEndpointRun(ctx);
  await resetTable(ctx, QUALIFIED);
  ctx.log(`concurrent: ${users} × ${files[0].rows} rows via the endpoint (${format})`);
  const s = sampler(ctx, true, 100);
  await s.start();
  const t0 = performance.now();
  const uploads = await Promise.all(
    files.map((file, i) =>
      uploadFile({
        baseUrl: ctx.stack.ingestUrl,
        token: ctx.stack.tokens[i],
        table: TABLE,
        format,
        file: file.path,
        columns: TM_COLUMNS,
        idempotencyKey: `bench-${input.runId}-n${users}-r${k}-u${i}`,
      }),
    ),
  );
  const wallMs = performance.now() - t0;
  const sampled = await s.stop();
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
  return { outcomes: uploads.map((u) => ({ ...u, refused: isRefusal(u) })), wallMs, sampled, firstAccepted };
}

/** N `psql \copy` processes started at the same moment, directly to PostgreSQL. */
async function psqlTrial(ctx: BenchContext, users: number, tsvFiles: RowFile[]): Promise<Trial> {
  await beforePsqlRun(ctx);
  await resetTable(ctx, QUALIFIED);
  ctx.log(`concurrent: ${users} parallel psql \\copy`);
  const s = sampler(ctx, false);
  await s.start();
  const t0 = performance.now();
  const outcomes = await Promise.all(
    tsvFiles.map((f) =>
      psqlCopy(ctx.psqlConn, QUALIFIED, TM_COLUMNS, f.path, 'text').then(
        (r): Outcome => ({
          ms: r.ms,
          ok: r.rows === f.rows,
          rows: r.rows,
          error: r.rows === f.rows ? undefined : `${r.rows} rows`,
        }),
        (err: Error): Outcome => ({ ms: performance.now() - t0, ok: false, rows: 0, error: err.message }),
      ),
    ),
  );
  const wallMs = performance.now() - t0;
  const sampled = await s.stop();
  const stored = outcomes.reduce((a, r) => a + (r.ok ? r.rows : 0), 0);
  await expectRows(ctx, QUALIFIED, stored, `${users} parallel psql`);
  if (outcomes.some((o) => !o.ok)) {
    throw new Error(
      `psql baseline failed: ${[...new Set(outcomes.map((o) => o.error).filter(Boolean))].join('; ')}`,
    );
  }
  return { outcomes, wallMs, sampled, firstAccepted: null };
}

/** N uploads at once through the endpoint against N parallel `psql \copy` of the same rows, in ABBA order. */
export async function runConcurrent(ctx: BenchContext, input: ConcurrentInput): Promise<ConcurrentResult> {
  const { users, format } = input;
  const files = input.userFiles.slice(0, users).map((f) => need(f, format));
  const tsvFiles = input.userFiles.slice(0, users).map((f) => need(f, 'tsv'));
  if (files.length < users) throw new Error(`${users} users but only ${files.length} user files`);
  if (ctx.stack.tokens.length < users)
    throw new Error(`${users} users but the stack has ${ctx.stack.tokens.length} user tokens`);
  const endpointTrials: Trial[] = [];
  const psqlTrials: Trial[] = [];
  for (let k = 0; k < input.repeat; k++) {
    const endpointFirst = k % 2 === 0;
    for (const side of endpointFirst ? ['endpoint', 'psql'] : ['psql', 'endpoint']) {
      if (side === 'endpoint') endpointTrials.push(await endpointTrial(ctx, input, files, k));
      else psqlTrials.push(await psqlTrial(ctx, users, tsvFiles));
    }
  }
  const endpoint = combine(endpointTrials);
  const psql = combine(psqlTrials);
  return {
    users,
    rowsPerUpload: files[0].rows,
    format,
    runs: input.repeat,
    endpoint,
    psql,
    ratio: Math.round((endpoint.aggregateRowsPerSec / psql.aggregateRowsPerSec) * 100) / 100,
  };
}

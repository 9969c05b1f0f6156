// `npm run bench`: methods straight into PostgreSQL, one upload through the worker, N users uploading at
// once, and scaling with N, each against `psql \copy` in the same run, on a local stack tuned for this
// machine. Writes bench/results/<date>-<host>.{md,json,svg} and latest.{md,json,svg}.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { findPgBouncer } from '../stacks/local-processes/pgbouncer-process';
import { startLocalStack, type LocalStack } from '../stacks/local-processes/stack';
import { addTierOptions, tierFromFlags, type TierFlags } from '../cli/tier-options';
import { openContext, type BenchContext } from './bench-context';
import { describeMachine, pgbouncerVersion } from './machine';
import { profileWorker } from './profile-worker';
import { renderMarkdown } from './report-markdown';
import { renderChart } from './report-svg';
import type {
  BenchReport,
  ConcurrentResult,
  MethodResult,
  ProfileSummary,
  SingleUploadResult,
} from './report-types';
import { ROW_FORMATS, type RowFormat } from './row-encoders';
import { writeRowFiles, type RowFileSet } from './row-files';
import { runConcurrent, runSingle } from './scenario-endpoint';
import { runMethods } from './scenario-methods';
import { evaluateTargets } from './targets';
import { tmRows, type TmRow } from '../ingest/client/tm-rows';

const SCENARIOS = ['methods', 'single', 'concurrent', 'scaling'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface BenchFlags extends TierFlags {
  rows: number;
  singleRows: number;
  scale?: number[];
  only: Scenario[];
  insertRows: number;
  insertBatch: number;
  seed: number;
  format: RowFormat;
  singleFormats: RowFormat[];
  out: string;
  dataDir?: string;
  keep: boolean;
  profile: boolean;
  cold: boolean;
  repeat: number;
  tag?: string;
  logLevel: string;
}

const positiveInt = (flag: string) => (text: string) => {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1, got "${text}"`);
  return Number(text);
};
const list =
  <T extends string>(flag: string, allowed: readonly T[]) =>
  (text: string) => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.filter((i) => !allowed.includes(i as T));
    if (bad.length || items.length === 0)
      throw new InvalidArgumentError(
        `${flag}: unknown ${bad.join(', ') || '(empty)'}; use ${allowed.join(', ')}`,
      );
    return items as T[];
  };
const intList = (flag: string) => (text: string) => text.split(',').map((s) => positiveInt(flag)(s.trim()));

function parseFlags(argv: string[]): BenchFlags {
  const cmd = new Command('bench')
    .description('Ingest benchmarks against psql \\copy on a local stack tuned for this machine')
    .option('--rows <n>', 'rows per upload when N users upload at once', positiveInt('--rows'), 100_000)
    .option(
      '--single-rows <n>',
      'rows of the single upload and of the methods comparison',
      positiveInt('--single-rows'),
      1_000_000,
    )
    .option(
      '--scale <list>',
      'numbers of concurrent users for the scaling runs (default 1,4,16,<users>)',
      intList('--scale'),
    )
    .addOption(
      new Option('--only <list>', 'scenarios to run')
        .argParser(list('--only', SCENARIOS))
        .default([...SCENARIOS], SCENARIOS.join(',')),
    )
    .option(
      '--insert-rows <n>',
      'rows for single-row INSERT (it is slow)',
      positiveInt('--insert-rows'),
      20_000,
    )
    .option('--insert-batch <n>', 'rows per multi-row INSERT statement', positiveInt('--insert-batch'), 5000)
    .option('--seed <n>', 'row generator seed', positiveInt('--seed'), 20240611)
    .addOption(
      new Option('--format <fmt>', 'upload format when N users upload at once')
        .argParser(list('--format', ROW_FORMATS))
        .default(['pgcopy'], 'pgcopy'),
    )
    .addOption(
      new Option('--single-formats <list>', 'formats of the single upload')
        .argParser(list('--single-formats', ROW_FORMATS))
        .default(['pgcopy', 'tsv', 'ndjson'], 'pgcopy,tsv,ndjson'),
    )
    .addOption(
      new Option('--out <dir>', 'where reports go').default(path.join(__dirname, 'results'), 'bench/results'),
    )
    .option(
      '--data-dir <dir>',
      'working directory for the stack and data files (default: a temp dir, removed)',
    )
    .option('--keep', 'keep the working directory', false)
    .option(
      '--profile',
      'afterwards, repeat the uploads against a worker run with --cpu-prof and report its hot functions',
      false,
    )
    .option(
      '--repeat <n>',
      'runs per side of each concurrent scenario, in ABBA order (endpoint, psql, psql, endpoint)',
      positiveInt('--repeat'),
      2,
    )
    .option(
      '--cold',
      "experiment: start endpoint runs with PgBouncer's ingest pool empty and min_pool_size 0 (default: as deployed, pool open)",
      false,
    )
    .option('--tag <name>', 'name the report files <date>-<host>-<name> and latest-<name> (experiments)')
    .option('--log-level <level>', "the worker's log level", 'info');
  addTierOptions(cmd);
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => undefined }); // main() prints the message once
  cmd.parse(argv, { from: 'user' });
  const o = cmd.opts<Omit<BenchFlags, 'format'> & { format: RowFormat[] }>();
  return { ...o, format: o.format[0] };
}

function stamp(d: Date): string {
  return d.toISOString().slice(0, 10);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let flags: BenchFlags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (code === 0) return 0; // --help
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const tier = tierFromFlags(flags);
  const users = tier.users;
  const scale = [...new Set([...(flags.scale ?? [1, 4, 16].filter((n) => n < users)), users])].sort(
    (a, b) => a - b,
  );
  const maxUsers = Math.max(...scale);
  if (maxUsers > tier.users) {
    process.stderr.write(
      `--scale ${maxUsers} exceeds --users ${tier.users}: the stack is tuned for ${tier.users} concurrent uploads\n`,
    );
    return 2;
  }
  const only = new Set(flags.only);
  const started = new Date();
  const t0 = performance.now();
  const log = (m: string) =>
    process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

  const workDir = flags.dataDir
    ? path.resolve(flags.dataDir)
    : fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bench-'));
  const filesDir = path.join(workDir, 'files');
  fs.mkdirSync(filesDir, { recursive: true });
  // PostgreSQL and PgBouncer run as an unprivileged user that must traverse the working directory.
  fs.chmodSync(workDir, 0o711);
  const notes: string[] = [];
  let failed = false;
  let stack: LocalStack | undefined;
  let starting: Promise<LocalStack> | undefined;
  const cleanup = async () => {
    // A failure during data generation can come while the stack is still starting: wait for it to stop it.
    const running = stack ?? (await starting?.catch(() => undefined));
    starting = undefined;
    stack = undefined;
    await running?.stop().catch(() => undefined);
    if (!flags.keep && !flags.dataDir) fs.rmSync(workDir, { recursive: true, force: true });
  };
  const onSignal = () => {
    log('interrupted: stopping the stack');
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // The stack starts first: initdb and the servers' start-up run in their own processes while this one
    // generates the data (synchronously), so the two overlap.
    log(
      `starting PostgreSQL, PgBouncer and the worker (tier ${tier.name}: ${tier.hardware.cores} cores, ${tier.hardware.ramMiB} MiB, ${tier.users} users)`,
    );
    starting = startLocalStack({
      dataDir: path.join(workDir, 'stack'),
      tier,
      ingestPort: 0,
      bouncerPort: 0,
      worker: 'child',
      extraTokens: maxUsers,
      logLevel: flags.logLevel as never,
    });

    // --- data: written once, every scenario reads the same bytes.
    const needSingle = only.has('methods') || only.has('single');
    const concurrentN = only.has('scaling') ? scale : only.has('concurrent') ? [users] : [];
    let singleFiles: RowFileSet = {};
    // The in-process methods need the rows in memory; the files are written from that same array.
    let singleRows: TmRow[] | undefined;
    if (needSingle) {
      const formats = [...new Set<RowFormat>(['tsv', 'pgcopy', ...flags.singleFormats])];
      log(`generating ${flags.singleRows} rows as ${formats.join(', ')}`);
      if (only.has('methods')) singleRows = Array.from(tmRows(flags.seed, flags.singleRows, 0));
      singleFiles = writeRowFiles(
        filesDir,
        'single',
        singleRows ?? tmRows(flags.seed, flags.singleRows, 0),
        formats,
      );
    }
    const userFiles: RowFileSet[] = [];
    const nFiles = concurrentN.length ? Math.max(...concurrentN) : 0;
    if (nFiles) log(`generating ${nFiles} user files of ${flags.rows} rows (${flags.format}, tsv)`);
    for (let i = 0; i < nFiles; i++) {
      userFiles.push(
        writeRowFiles(filesDir, `user-${i + 1}`, tmRows(flags.seed, flags.rows, i + 1), [
          ...new Set<RowFormat>([flags.format, 'tsv']),
        ]),
      );
    }
    // The generated files (1.6 GB by default) are still dirty in the page cache: write them out now, or
    // the kernel's writeback competes with the first measurements for the disk (it halved COPY's rate
    // in the methods scenario while INSERT, which writes less WAL per second, hardly changed).
    if (needSingle || nFiles) {
      log('writing the generated files to disk (sync)');
      execFileSync('sync');
    }
    stack = await starting;
    log('stack ready');
    const ctx: BenchContext = await openContext(stack, filesDir, log, !flags.cold);
    const pgVersion = (await ctx.admin.query<{ v: string }>('SELECT version() AS v')).rows[0].v;
    const machine = describeMachine(workDir, {
      postgres: pgVersion,
      pgbouncer: pgbouncerVersion(findPgBouncer()),
    });
    if (!stack.bouncer)
      notes.push('PgBouncer is not installed: the worker connected to PostgreSQL directly.');

    let methods: MethodResult[] = [];
    let single: { baseline: MethodResult | null; uploads: SingleUploadResult[] } = {
      baseline: null,
      uploads: [],
    };
    const scaling: ConcurrentResult[] = [];
    const guard = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        failed = true;
        notes.push(`**${name} failed**: ${(err as Error).message}`);
        log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      }
    };

    if (only.has('methods')) {
      await guard('methods', async () => {
        methods = await runMethods(ctx, {
          rows: singleRows!,
          tsvFile: singleFiles.tsv!.path,
          pgcopyFile: singleFiles.pgcopy!.path,
          tsvBytes: singleFiles.tsv!.bytes,
          insertBatch: flags.insertBatch,
          singleInsertRows: flags.insertRows,
        });
      });
    }
    const runId = `${Date.now().toString(36)}`;
    if (only.has('single')) {
      await guard('single upload', async () => {
        const r = await runSingle(ctx, {
          files: singleFiles,
          formats: flags.singleFormats,
          runId,
          sdkRows: function* () {
            for (const r of tmRows(flags.seed, flags.singleRows, 0))
              yield [r.tmId, r.source, r.target, r.createdBy];
          },
        });
        single = { baseline: r.baseline, uploads: r.uploads };
        notes.push(
          `Single-upload baseline: psql \\copy took ${r.baselineRuns.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(' before and ')} after the uploads; the mean is the baseline.`,
        );
      });
    }
    for (const n of concurrentN) {
      await guard(`${n} concurrent uploads`, async () => {
        scaling.push(
          await runConcurrent(ctx, {
            users: n,
            userFiles,
            format: flags.format,
            runId,
            repeat: flags.repeat,
          }),
        );
      });
    }
    const concurrent = scaling.find((s) => s.users === users) ?? null;

    const profiles: ProfileSummary[] = [];
    if (flags.profile) {
      await guard('profiling', async () => {
        profiles.push(
          ...(await profileWorker(ctx, {
            workDir,
            outDir: flags.out,
            singleFiles,
            singleFormats: only.has('single') ? flags.singleFormats : [],
            userFiles,
            users,
            format: flags.format,
            runId,
          })),
        );
      });
    }
    await ctx.admin.end();

    notes.push(
      `Rows: deterministic generator (seed ${flags.seed}), ~${Math.round((singleFiles.tsv?.bytes ?? userFiles[0]?.tsv?.bytes ?? 0) / Math.max(1, singleFiles.tsv?.rows ?? userFiles[0]?.tsv?.rows ?? 1))} bytes per row as COPY text; tm_id, source, target (German, French, Spanish, Polish, Japanese, Arabic, some emoji), created_by (1% NULL); ~2% of rows carry quotes, tabs, newlines or backslashes.`,
      'Every measurement starts from an empty table (a new table per method; TRUNCATE of tm_entries for uploads) after a CHECKPOINT, and ends with a row count check.',
      flags.cold
        ? "Cold start (--cold, an experiment): before every endpoint run PgBouncer's ingest entry was set to min_pool_size 0 and its idle server connections closed, as the tier was before it kept the pool open; PgBouncer opens server connections one at a time per pool, so N simultaneous uploads wait for up to N sequential logins."
        : "As deployed: the tier keeps PgBouncer's ingest pool open (min_pool_size = pool size); and the worker keeps its upload pool's client connections open (dbPoolKeepOpen, opened at start); before each endpoint run the benchmark waited until PgBouncer had opened all of its pool and the worker's /metrics showed its connections idle. Before each psql run min_pool_size was set to 0 and the idle server connections closed, so the N direct psql sessions fit in max_connections.",
      "psql \\copy is the baseline: PostgreSQL's own client, COPY text format, connected directly to PostgreSQL (no PgBouncer, no worker), timed from process start to exit.",
      "Endpoint uploads: node:http streaming the file (256 KiB reads, Content-Length, Idempotency-Key), through the worker and PgBouncer's ingest pool, timed from request start to the 201 response (after COMMIT).",
      'MB/s counts the rows in COPY text form for every method, so MB/s ratios equal rows/s ratios; "body MB" is what the endpoint received.',
      "Time to first byte accepted: from the moment the N requests start until each upload's transaction begins in PostgreSQL (pg_stat_activity.xact_start of the worker's COPY sessions, sampled every 100 ms over a direct connection; the timestamp itself is PostgreSQL's, exact). The worker reads no body byte before it holds a database connection inside BEGIN and reads at once after it, so this is all the queuing a user sees (worker, node pool, PgBouncer, server login). Client-side timing cannot see it: the kernel's socket buffers take the first MBs of any upload whether or not anyone reads them. Polling the worker's progress API instead would itself queue: a lookup the worker cannot answer from memory goes through the same PgBouncer pool as the uploads.",
      'PgBouncer maxwait: SHOW POOLS on the admin console for the ingest pool, sampled every 200 ms (the age of the oldest waiting client at that moment).',
      "Worker peak RSS: the worker child process's VmHWM (reset through /proc/<pid>/clear_refs before each scenario) and VmRSS sampled every 200 ms; the worker runs under tsx (TypeScript loader), which adds some MiB over compiled JS.",
      'Peak PostgreSQL connections: client backends in pg_stat_activity (the sampler\'s own excluded), sampled every 200 ms; wait events are shares of active-backend samples ("CPU" = active, no wait event; Client:ClientRead = waiting for the client\'s next bytes).',
      `N concurrent: user i uploads its own ${flags.rows}-row file (its own tm_ids) with its own token; the baseline is N psql processes loading the same rows (TSV) at once.`,
      `Machine load: other processes may run on this machine; the 1-minute load average was ${machine.loadAvgAtStart} at the start and ${os.loadavg()[0].toFixed(2)} at the end.`,
    );

    const finished = new Date();
    const s = stack.settings;
    const partial: Omit<BenchReport, 'targets'> = {
      version: 1,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSec: Math.round((performance.now() - t0) / 1000),
      command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
      options: { ...flags, scale, tier: tier.name },
      machine,
      tier: { name: tier.name, cores: tier.hardware.cores, ramMiB: tier.hardware.ramMiB, users: tier.users },
      settings: {
        'PostgreSQL max_connections': Number(s.postgres.max_connections.value),
        'PostgreSQL shared_buffers': `${s.postgres.shared_buffers.value} MB`,
        'PostgreSQL max_wal_size': `${s.postgres.max_wal_size.value} MB`,
        'PostgreSQL synchronous_commit': String(s.postgres.synchronous_commit.value),
        'PostgreSQL wal_compression': String(s.postgres.wal_compression.value),
        'PgBouncer ingest pool': `${s.pgbouncer.ingest.poolSize.value} (${s.pgbouncer.ingest.poolMode})`,
        'PgBouncer ingest min_pool_size': s.pgbouncer.ingest.minPoolSize.value,
        'worker concurrent uploads (per token)': `${s.ingest.maxConcurrentUploads.value} (${s.ingest.maxConcurrentUploadsPerToken.value})`,
        'worker COPY chunk': `${s.ingest.copyChunkBytes.value} bytes`,
      },
      data: {
        seed: flags.seed,
        rowBytesTsv: singleFiles.tsv ? Math.round(singleFiles.tsv.bytes / singleFiles.tsv.rows) : 0,
        files: Object.fromEntries(
          Object.values(singleFiles).map((f) => [f!.format, { rows: f!.rows, bytes: f!.bytes }]),
        ),
      },
      methods,
      single,
      concurrent,
      scaling,
      profiles,
      notes,
    };
    const report: BenchReport = { ...partial, targets: evaluateTargets(partial) };
    writeReports(report, flags.out, log, flags.tag);
    for (const t of report.targets)
      log(`${t.pass === null ? 'n/a ' : t.pass ? 'pass' : 'MISS'}  ${t.what}: ${t.measured} (${t.target})`);
  } finally {
    await cleanup();
  }
  return failed ? 1 : 0;
}

/**
 * Writes <date>-<host>[-<tag>].{md,json,svg} and latest[-<tag>].{md,json,svg}: a tagged run (an experiment)
 * never replaces the untagged latest report.
 */
export function writeReports(
  report: BenchReport,
  outDir: string,
  log: (m: string) => void,
  tag?: string,
): void {
  fs.mkdirSync(outDir, { recursive: true });
  const suffix = tag ? `-${tag.replace(/[^A-Za-z0-9.-]/g, '_')}` : '';
  const base = `${stamp(new Date(report.startedAt))}-${report.machine.host.replace(/[^A-Za-z0-9.-]/g, '_')}${suffix}`;
  const svg = renderChart(report);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  for (const name of [base, `latest${suffix}`]) {
    fs.writeFileSync(path.join(outDir, `${name}.svg`), svg);
    fs.writeFileSync(path.join(outDir, `${name}.json`), json);
    fs.writeFileSync(path.join(outDir, `${name}.md`), renderMarkdown(report, `${name}.svg`));
  }
  log(`report: ${path.join(outDir, `${base}.md`)} (and latest${suffix}.md, .json, .svg)`);
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

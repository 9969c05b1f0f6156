// `npm run bench:parallel`: one large upload through the endpoint split over K = 1, 2, 4 COPYs (ingest/copy-parts),
// against `psql \copy` of the same file into the same table (tm_entries, schema v4), in one run: rounds in
// rotating order, medians, and what the COPY backends waited on. The stack is tuned as an 8-core tier (so
// PostgreSQL can prepare transactions) whatever this machine has: on 2 cores, K > 1 can only show the cost of
// the protocol, not a gain; a real tier shows what the cores buy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { customTier } from '../config-templates';
import type { IngestConfig } from '../ingest/config';
import { uploadFile } from '../ingest/client';
import { tmRows, TM_COLUMNS } from '../ingest/client/tm-rows';
import { startLocalStack, type LocalStack } from '../stacks/local-processes/stack';
import { beforeEndpointRun, beforePsqlRun, openContext } from './bench-context';
import { psqlCopy } from './psql-copy';
import { writeRowFiles } from './row-files';
import { median } from './stats';
import { writeResults } from './results-file';
import { topWaits, waitEventSampler } from './samplers';

type Side = 'psql' | 'K=1' | 'K=2' | 'K=4';

function parseArgs(argv: string[]) {
  const get = (flag: string, dflt: number) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  return { rows: get('--rows', 1_000_000), rounds: get('--rounds', 3) };
}

/** The worker with K parts at most (1: off); parts every 8 MiB of COPY data. */
async function setParts(stack: LocalStack, k: number): Promise<void> {
  const file = path.join(stack.dataDir, 'ingest.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as IngestConfig;
  const limits = { ...c.limits, parallelCopyParts: k, parallelCopyPartBytes: 8 * 1024 ** 2 };
  fs.writeFileSync(file, JSON.stringify({ ...c, limits }, null, 2), { mode: 0o600 });
  await stack.restartWorker('graceful');
}

async function main(): Promise<void> {
  const { rows, rounds } = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'powerhouse-bench-parallel-'));
  fs.chmodSync(work, 0o755);
  const tier = customTier(
    { cores: 8, ramMiB: Math.floor(os.totalmem() / 2 ** 20), disk: 'ssd' },
    4,
    'detect',
  );
  log(`starting the stack (8-core tier settings on ${os.cpus().length} cores); writing ${rows} rows`);
  const stack = await startLocalStack({
    dataDir: path.join(work, 'stack'),
    tier,
    ingestPort: 0,
    bouncerPort: 0,
    logLevel: 'warn',
    worker: 'child',
  });
  const runs: Record<Side, number[]> = { psql: [], 'K=1': [], 'K=2': [], 'K=4': [] };
  const parts: Record<Side, number[]> = { psql: [], 'K=1': [], 'K=2': [], 'K=4': [] };
  const waits: Record<Side, Map<string, number>> = {
    psql: new Map(),
    'K=1': new Map(),
    'K=2': new Map(),
    'K=4': new Map(),
  };
  try {
    const ctx = await openContext(stack, work, log);
    const file = writeRowFiles(work, 'single', tmRows(999, rows, 0), ['tsv']).tsv!.path;
    const sides: Side[] = ['psql', 'K=1', 'K=2', 'K=4'];
    for (let round = 0; round < rounds; round++) {
      // Rotating order: no side always runs first (cold caches) or last (a busier disk).
      for (const side of sides.map((_, i) => sides[(i + round) % sides.length])) {
        await ctx.admin.query('TRUNCATE public.tm_entries');
        await ctx.admin.query('CHECKPOINT');
        if (side !== 'psql') await setParts(stack, Number(side.slice(2)));
        await (side === 'psql' ? beforePsqlRun(ctx) : beforeEndpointRun(ctx));
        const sampler = await waitEventSampler(stack.superuserUrl, side !== 'psql');
        const t0 = performance.now();
        let ms = 0;
        let uploadId: string | undefined;
        try {
          if (side === 'psql') await psqlCopy(ctx.psqlConn, 'public.tm_entries', TM_COLUMNS, file);
          else {
            const r = await uploadFile(stack.ingestUrl, stack.token, 'tm_entries', file, {
              format: 'tsv',
              columns: [...TM_COLUMNS],
            });
            uploadId = r.uploadId;
          }
        } finally {
          ms = performance.now() - t0; // before the sampler's last query, not after
          await sampler.stop();
        }
        for (const [k, v] of sampler.counts) waits[side].set(k, (waits[side].get(k) ?? 0) + v);
        const n = Number(
          (await ctx.admin.query<{ n: string }>('SELECT count(*) AS n FROM public.tm_entries')).rows[0].n,
        );
        if (n !== rows) throw new Error(`${side}: ${n} rows stored, expected ${rows}`);
        if (uploadId) {
          const p = await ctx.admin.query<{ parts: number }>(
            'SELECT parts FROM powerhouse.uploads WHERE upload_id = $1',
            [uploadId],
          );
          parts[side].push(p.rows[0].parts);
        }
        runs[side].push((rows * 1000) / ms);
        log(`round ${round + 1}/${rounds} ${side.padEnd(5)} ${Math.round((rows * 1000) / ms)} rows/s`);
      }
    }
    await ctx.admin.end();
    report({ rows, rounds, runs, parts, waits });
  } finally {
    await stack.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function report(r: {
  rows: number;
  rounds: number;
  runs: Record<Side, number[]>;
  parts: Record<Side, number[]>;
  waits: Record<Side, Map<string, number>>;
}): void {
  const psql = median(r.runs.psql);
  const k1 = median(r.runs['K=1']);
  const lines = [
    `# Parallel COPY of one ${r.rows}-row upload: K = 1, 2, 4 against psql \\copy, same run`,
    '',
    `Measured ${new Date().toISOString()} on ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB ` +
      `(load ${os.loadavg()[0].toFixed(2)} at the end); medians of ${r.rounds} rounds in rotating order; ` +
      'the stack tuned as an 8-core tier (max_prepared_transactions 16), the body TSV through the SDK (uploadFile), ' +
      'parts every 8 MiB of COPY data; psql loads the same file into the same table (tm_entries, schema v4).',
    '',
    '| side | rows/s (median) | × psql | × K=1 | parts used | top waits of the COPY backends | every run |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const side of ['psql', 'K=1', 'K=2', 'K=4'] as Side[]) {
    const m = median(r.runs[side]);
    lines.push(
      `| ${side} | ${Math.round(m)} | ${(m / psql).toFixed(2)}× | ${side === 'psql' ? '–' : `${(m / k1).toFixed(2)}×`} | ` +
        `${r.parts[side].join(', ') || '–'} | ${topWaits(r.waits[side])} | ${r.runs[side].map(Math.round).join(', ')} |`,
    );
  }
  lines.push(
    '',
    `On ${os.cpus().length} cores one COPY backend and the worker already use the machine: K > 1 adds backends that ` +
      'compete for the same cores, so it can only show what the protocol costs (PREPARE, COMMIT PREPARED, cutting ' +
      'rows). On a tier with idle cores each part is another backend parsing and inserting in parallel; measure ' +
      'there with `npm run bench:parallel` before relying on a figure.',
  );
  const waits = Object.fromEntries(Object.entries(r.waits).map(([k, v]) => [k, Object.fromEntries(v)]));
  writeResults('parallel-latest', lines.join('\n'), {
    measuredAt: new Date().toISOString(),
    cores: os.cpus().length,
    ...r,
    waits,
  });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

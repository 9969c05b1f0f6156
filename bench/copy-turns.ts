// `npm run bench:copy-turns`: how many COPYs at a time load N concurrent uploads fastest, and what the worker's
// COPY turns (ingest/copy-gate.ts) give the endpoint. The same N files (binary COPY, each uploader its own tm_id,
// the shipped schema) loaded by (a) psql \copy with C sessions at a time pulling the files in order, for each C
// in --psql, and (b) the endpoint, once with the tier's maxActiveCopies and once with every upload at once
// (maxActiveCopies = N, as before the gate), each its own stack. Rounds in alternating order (ABBA), medians.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Settings } from '../config-templates';
import { tmRows, TM_COLUMNS, type TmRow } from '../ingest/client/tm-rows';
import type { LocalStack } from '../stacks/local-processes/stack';
import {
  beforeEndpointRun,
  beforePsqlRun,
  benchWorkDir,
  openContext,
  startBenchStack,
  tmTableDdl,
  type BenchContext,
} from './bench-context';
import { uploadFile } from './http-upload';
import { psqlCopy } from './psql-copy';
import { writeResults } from './results-file';
import { writeRowFiles } from './row-files';
import { topWaits, waitEventSampler } from './samplers';
import { median } from './stats';

function parseArgs(argv: string[]) {
  const get = (flag: string, dflt: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  return {
    users: Number(get('--users', '40')),
    rows: Number(get('--rows', '100000')),
    rounds: Number(get('--rounds', '4')),
    psql: get('--psql', '40,8,4,2').split(',').map(Number),
  };
}

const TABLE = 'public.copy_turns_bench';

interface Side {
  name: string;
  what: string;
  run: () => Promise<void>;
  ctx: BenchContext;
  endpoint: boolean;
}

async function main(): Promise<void> {
  const { users, rows, rounds, psql } = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const work = benchWorkDir('turns');
  const stacks: LocalStack[] = [];
  try {
    const start = async (name: string, adjust?: (s: Settings) => Settings) => {
      const stack = await startBenchStack(path.join(work, name), users, adjust);
      stacks.push(stack);
      return { stack, ctx: await openContext(stack, work, log, true) };
    };
    log(`starting two stacks (tier for ${users} users); generating ${users} × ${rows} rows`);
    const gated = await start('gated');
    const turns = gated.stack.settings.ingest.maxActiveCopies.value;
    const open = await start('all-at-once', (s) => ({
      ...s,
      ingest: { ...s.ingest, maxActiveCopies: { value: users, reason: 'bench: every upload at once' } },
    }));
    const files: string[] = [];
    for (let u = 0; u < users; u++) {
      const gen = (function* (): Generator<TmRow> {
        for (const r of tmRows(u + 1, rows, 0)) yield { ...r, tmId: 1000 + u };
      })();
      files.push(writeRowFiles(work, `own-${u}`, gen, ['pgcopy']).pgcopy!.path);
    }
    await gated.ctx.admin.query(tmTableDdl(TABLE, 'copy_turns_bench_pkey'));

    const endpointSide = (s: typeof gated, name: string, what: string): Side => ({
      name,
      what,
      ctx: s.ctx,
      endpoint: true,
      run: async () => {
        const stamp = `${name}-${Date.now()}`;
        await Promise.all(
          files.map(async (file, i) => {
            const r = await uploadFile({
              baseUrl: s.stack.ingestUrl,
              token: s.stack.tokens[i],
              table: 'tm_entries',
              format: 'pgcopy',
              file,
              columns: TM_COLUMNS,
              idempotencyKey: `${stamp}-${i}`,
            });
            if (!r.ok) throw new Error(`${name}: upload ${i}: ${r.status} ${r.error ?? ''}`);
          }),
        );
      },
    });
    const sides: Side[] = [
      ...psql.map((c): Side => ({
        name: `psql_${c}`,
        what: `psql \\copy, ${c} session${c > 1 ? 's' : ''} at a time`,
        ctx: gated.ctx,
        endpoint: false,
        run: async () => {
          let next = 0;
          await Promise.all(
            Array.from({ length: Math.min(c, files.length) }, async () => {
              while (next < files.length)
                await psqlCopy(gated.ctx.psqlConn, TABLE, TM_COLUMNS, files[next++], 'binary');
            }),
          );
        },
      })),
      endpointSide(gated, 'endpoint_turns', `the endpoint, maxActiveCopies ${turns} (the tier's)`),
      endpointSide(open, 'endpoint_all', `the endpoint, maxActiveCopies ${users} (every upload at once)`),
    ];

    const results: Record<string, number[]> = {};
    const waits: Record<string, Map<string, number>> = {};
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const table = side.endpoint ? 'public.tm_entries' : TABLE;
        await side.ctx.admin.query(`TRUNCATE ${table}`);
        await side.ctx.admin.query('CHECKPOINT');
        await (side.endpoint ? beforeEndpointRun(side.ctx) : beforePsqlRun(side.ctx));
        const sampler = await waitEventSampler(side.ctx.stack.superuserUrl, side.endpoint);
        const t0 = performance.now();
        let ms = 0;
        try {
          await side.run();
        } finally {
          ms = performance.now() - t0; // before the sampler's last query, not after
          await sampler.stop();
        }
        const n = Number(
          (await side.ctx.admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n,
        );
        if (n !== users * rows) throw new Error(`${side.name}: ${n} rows stored, expected ${users * rows}`);
        const rate = (n * 1000) / ms;
        (results[side.name] ??= []).push(rate);
        const agg = (waits[side.name] ??= new Map());
        for (const [k, v] of sampler.counts) agg.set(k, (agg.get(k) ?? 0) + v);
        log(`round ${round + 1}/${rounds} ${side.name.padEnd(16)} ${Math.round(rate)} rows/s`);
      }
    }
    const base = median(results[`psql_${psql[0]}`]);
    const lines = [
      `# COPY turns: ${users} uploads × ${rows} rows, how many COPYs at a time`,
      '',
      `Measured ${new Date().toISOString()} on ${os.cpus().length} cores (load ${os.loadavg()[0].toFixed(2)} at the end); ` +
        `medians of ${rounds} rounds in alternating order (ABBA). Binary COPY files, every uploader its own tm_id, ` +
        `the shipped schema (primary key (tm_id, id)). Ratios to psql with ${psql[0]} sessions at once, same run.`,
      '',
      '| how | rows/s | × psql all at once | runs | top waits |',
      '|---|---|---|---|---|',
      ...sides.map(
        (s) =>
          `| ${s.what} | ${Math.round(median(results[s.name]))} | ${(median(results[s.name]) / base).toFixed(2)}× | ` +
          `${results[s.name].map(Math.round).join(', ')} | ${topWaits(waits[s.name])} |`,
      ),
      '',
      `endpoint with turns ÷ endpoint all at once: ${(median(results.endpoint_turns) / median(results.endpoint_all)).toFixed(2)}×`,
    ];
    writeResults('copy-turns-latest', lines.join('\n'), {
      measuredAt: new Date().toISOString(),
      cores: os.cpus().length,
      users,
      rows,
      rounds,
      turns,
      results,
    });
  } finally {
    for (const s of stacks.reverse()) await s.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module)
  main().catch((err: unknown) => {
    process.stderr.write(`bench:copy-turns: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });

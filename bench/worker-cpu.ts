// `npm run bench:worker-cpu`: the ingest worker's own CPU time per million rows while N uploads run at once
// (default 40 × 50,000 TM rows, each uploader its own token, files streamed as the main bench does), per body format: user + system seconds of the worker
// process from /proc/<pid>/stat around the uploads, so time it waits or PostgreSQL's CPU never counts. On a machine
// where the worker and PostgreSQL share the cores, every CPU second the worker saves is PostgreSQL's. Rounds in
// rotating format order, medians. To compare two versions, run it in each checkout alternately (ABBA) with --tag.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { tmRows, TM_COLUMNS, type TmRow } from '../ingest/client/tm-rows';
import { benchWorkDir, startBenchStack } from './bench-context';
import { uploadFile } from './http-upload';
import type { RowFormat } from './row-encoders';
import { writeRowFiles } from './row-files';
import { processCpuSeconds } from './samplers';
import { median } from './stats';
import { writeResults } from './results-file';

const FORMATS: readonly RowFormat[] = ['tsv', 'pgcopy'];

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    users: Number(get('--users') ?? 40),
    rows: Number(get('--rows') ?? 50_000),
    rounds: Number(get('--rounds') ?? 3),
    tag: get('--tag'),
  };
}

async function main(): Promise<void> {
  const { users, rows, rounds, tag } = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const work = benchWorkDir('cpu');
  const stack = await startBenchStack(path.join(work, 'stack'), users);
  const admin = new Client({ connectionString: stack.superuserUrl, application_name: 'bench-admin' });
  const perM: Record<string, number[]> = {};
  const userShare: Record<string, number[]> = {};
  // The others that share the cores with PostgreSQL in this bench: the uploading client (this process: in a
  // deployment it runs on the desktops, not the server) and PgBouncer.
  const clientPerM: Record<string, number[]> = {};
  const bouncerPerM: Record<string, number[]> = {};
  try {
    await admin.connect();
    log(`writing ${users} × ${rows} rows as ${FORMATS.join(', ')}`);
    const files = Array.from({ length: users }, (_, u) => {
      const gen = (function* (): Generator<TmRow> {
        for (const r of tmRows(u + 1, rows, 0)) yield { ...r, tmId: 1000 + u };
      })();
      return writeRowFiles(work, `user-${u}`, gen, FORMATS);
    });
    for (let round = 0; round < rounds; round++) {
      for (const format of FORMATS.map((_, i) => FORMATS[(i + round) % FORMATS.length])) {
        await admin.query('TRUNCATE public.tm_entries');
        await admin.query('CHECKPOINT');
        const pid = stack.workerPid!;
        const bouncerPid = stack.bouncer?.pid;
        const before = processCpuSeconds(pid);
        const bouncerBefore = bouncerPid ? processCpuSeconds(bouncerPid) : undefined;
        const clientBefore = process.cpuUsage();
        const results = await Promise.all(
          files.map((f, i) =>
            uploadFile({
              baseUrl: stack.ingestUrl,
              token: stack.tokens[i],
              table: 'tm_entries',
              format,
              file: f[format]!.path,
              columns: TM_COLUMNS,
              idempotencyKey: `cpu-${round}-${format}-${i}`,
            }),
          ),
        );
        const failed = results.find((r) => !r.ok);
        if (failed) throw new Error(`${format}: an upload failed: ${failed.status} ${failed.error}`);
        const after = processCpuSeconds(pid);
        const client = process.cpuUsage(clientBefore);
        const bouncerAfter = bouncerPid ? processCpuSeconds(bouncerPid) : undefined;
        const n = Number(
          (await admin.query<{ n: string }>('SELECT count(*) AS n FROM public.tm_entries')).rows[0].n,
        );
        if (n !== users * rows) throw new Error(`${format}: ${n} rows stored, expected ${users * rows}`);
        const user = after.user - before.user;
        const total = user + after.system - before.system;
        (perM[format] ??= []).push(total / (n / 1e6));
        (userShare[format] ??= []).push(user / total);
        (clientPerM[format] ??= []).push((client.user + client.system) / 1e6 / (n / 1e6));
        if (bouncerBefore && bouncerAfter) {
          const b = bouncerAfter.user + bouncerAfter.system - bouncerBefore.user - bouncerBefore.system;
          (bouncerPerM[format] ??= []).push(b / (n / 1e6));
        }
        log(
          `round ${round + 1}/${rounds} ${format.padEnd(6)} worker ${(total / (n / 1e6)).toFixed(2)} CPU-s per M rows`,
        );
      }
    }
  } finally {
    await admin.end().catch(() => undefined);
    await stack.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      cwd: __dirname,
    }).trim();
  } catch {
    // not a git checkout
  }
  const lines = [
    `# Worker CPU per million rows, ${users} uploads at once`,
    '',
    `Measured ${new Date().toISOString()} at commit ${commit} on ${os.cpus().length} cores (load ${os.loadavg()[0].toFixed(2)} at the end); ` +
      `${users} × ${rows} TM rows per round, files streamed over HTTP (bench/http-upload.ts), one token per uploader; the worker's user + system ` +
      `CPU from /proc/<pid>/stat around each round; medians of ${rounds} rounds, formats in rotating order.`,
    '',
    '| body format | worker CPU-s per M rows (median) | user share | every round | client (this process) | PgBouncer |',
    '|---|---|---|---|---|---|',
    ...FORMATS.map(
      (f) =>
        `| ${f} | ${median(perM[f]).toFixed(2)} | ${Math.round(100 * median(userShare[f]))}% | ${perM[f].map((v) => v.toFixed(2)).join(', ')} | ` +
        `${median(clientPerM[f]).toFixed(2)} | ${bouncerPerM[f] ? median(bouncerPerM[f]).toFixed(2) : '–'} |`,
    ),
    '',
    'The client streams files (in a deployment it runs on the desktops); PgBouncer relays every COPY byte.',
  ];
  writeResults(tag ? `worker-cpu-${tag}` : 'worker-cpu-latest', lines.join('\n'), {
    measuredAt: new Date().toISOString(),
    commit,
    users,
    rows,
    rounds,
    perM,
    userShare,
    clientPerM,
    bouncerPerM,
  });
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
